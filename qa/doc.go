// Package qa compares what speech to text heard in a voiceover with the
// script the voiceover should say, word for word, and reports the word error
// rate with each difference and where in the audio it happens.
//
// Both sides go through the same normalisation first (Normalize), because a
// transcript writes speech its own way: it writes "12" where the script says
// "twelve", "Dr." where it says "doctor", "well known" where it says
// "well-known", ’ where it typed '. Without normalisation those would all
// count as errors although the voice said exactly what the script asked.
package qa
