// Package audiotest builds small, valid audio files of silence for tests and
// demos: MP3 (MPEG-1 Layer III, 128 kbit/s CBR, 44.1 kHz mono, optionally
// with an ID3v2 tag or a Xing header), WAV (16-bit PCM mono 8 kHz), FLAC
// (16-bit mono 8 kHz, CONSTANT subframes) and Ogg Opus (48 kHz mono, 20 ms
// frames). Every generator is deterministic: the same duration gives the
// same bytes.
package audiotest
