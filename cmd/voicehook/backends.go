package main

import (
	"fmt"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/disk"
	"github.com/voicehook/voicehook/internal/sqlstore"
)

// buildStorage picks the audio storage --storage names.
func buildStorage(cfg config, local *disk.Storage) (voicehook.Storage, error) {
	switch cfg.Storage {
	case "local":
		return local, nil
	default:
		return nil, fmt.Errorf("--storage %s is not available in this build", cfg.Storage)
	}
}

// buildRecords picks the system of record --records names.
func buildRecords(cfg config, db *sqlstore.DB) (voicehook.Records, error) {
	switch cfg.Records {
	case "sql":
		return db, nil
	default:
		return nil, fmt.Errorf("--records %s is not available in this build", cfg.Records)
	}
}
