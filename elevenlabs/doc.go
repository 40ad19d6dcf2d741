// Package elevenlabs speaks ElevenLabs' side of voicehook: it verifies the
// ElevenLabs-Signature header of webhook deliveries, normalises every callback
// form into a voicehook.Outcome with a dedupe key, and streams finished Studio
// audio from the ElevenLabs API.
//
// Facts about the wire formats were checked against the official ElevenLabs
// SDKs; comments cite them where they matter.
package elevenlabs
