package airtabletest

import "fmt"

// A user's base changes under a running voicehook: a token loses a scope,
// a table or field is renamed. These change the emulator's base the same
// way, so tests see the errors Airtable answers afterwards.

// invalidPermissions is Airtable's 403 for a token that may not do what it
// asks (a missing scope, a base it cannot see).
func invalidPermissions() *apiError {
	return typed(403, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND", "Invalid permissions, or the requested model was not found. "+
		"Check that both your user and your token have the required permissions, and that the model names and/or ids are correct.")
}

// SetWriteScope grants or withdraws the token's data.records:write scope:
// without it every POST and PATCH answers 403.
func (s *Server) SetWriteScope(ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noWriteScope = !ok
}

// RenameTable renames a table, as a user would in Airtable's interface.
func (s *Server) RenameTable(old, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.data.byName[old]
	if !ok {
		return fmt.Errorf("no table %q", old)
	}
	if _, dup := s.data.byName[name]; dup {
		return fmt.Errorf("table %q exists", name)
	}
	delete(s.data.byName, old)
	t.name = name
	s.data.byName[name] = t
	for _, other := range s.data.tables {
		for _, f := range other.fields {
			if f.LinkedTable == old {
				f.LinkedTable = name
			}
		}
	}
	return nil
}

// RenameField renames a field of table, values kept.
func (s *Server) RenameField(tableName, old, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.data.byName[tableName]
	if !ok {
		return fmt.Errorf("no table %q", tableName)
	}
	f, ok := t.byName[old]
	if !ok {
		return fmt.Errorf("table %q has no field %q", tableName, old)
	}
	if _, dup := t.byName[name]; dup {
		return fmt.Errorf("table %q already has a field %q", tableName, name)
	}
	delete(t.byName, old)
	f.Name = name
	t.byName[name] = f
	for _, r := range t.records {
		if v, ok := r.fields[old]; ok {
			delete(r.fields, old)
			r.fields[name] = v
		}
	}
	// The inverse side of a link names this field.
	if f.Type == Links && f.InverseField != "" {
		if inv, ok := s.data.byName[f.LinkedTable].byName[f.InverseField]; ok {
			inv.InverseField = name
		}
	}
	return nil
}
