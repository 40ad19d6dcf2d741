package elevenlabs

// DefaultModel is the model ElevenLabs uses when a text-to-speech request
// names none.
const DefaultModel = "eleven_multilingual_v2"

// characterLimits are the characters one text-to-speech request may carry,
// per model, as ElevenLabs documents them ("Models" page, 2025).
var characterLimits = map[string]int{
	"eleven_v3":              3000,
	"eleven_multilingual_v2": 10000,
	"eleven_turbo_v2":        30000,
	"eleven_flash_v2":        30000,
	"eleven_turbo_v2_5":      40000,
	"eleven_flash_v2_5":      40000,
}

// minCharacterLimit is the smallest limit of any known model: what an
// unknown model is assumed to allow, so a script split for it is never
// refused for length.
const minCharacterLimit = 3000

// CharacterLimit is how many characters (runes) one text-to-speech request
// for modelID may carry. An empty modelID means DefaultModel; a model this
// package does not know gets the smallest known limit.
func CharacterLimit(modelID string) int {
	if modelID == "" {
		modelID = DefaultModel
	}
	if n, ok := characterLimits[modelID]; ok {
		return n
	}
	return minCharacterLimit
}
