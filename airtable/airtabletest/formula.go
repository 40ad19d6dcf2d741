package airtabletest

import (
	"fmt"
	"strings"
)

// The emulator evaluates exactly the formula forms voicehook's client
// sends, and refuses everything else with INVALID_FILTER_BY_FORMULA, so a
// test fails loudly if the client starts sending something the emulator
// cannot vouch for:
//
//	formula := call | comparison
//	call    := ("AND" | "OR") "(" formula { "," formula } ")"
//	comparison := operand "=" operand
//	operand := "RECORD_ID()" | "{" field name "}" | string
//	string  := "'" … "'" | '"' … '"'   (backslash escapes the next character)
//
// A field reference evaluates as Airtable evaluates it: text as itself, a
// select as its option's name, and a linked-record field as the linked
// records' primary field values joined with ", " (not their ids).

type formula interface {
	eval(r rowView) bool
}

// rowView is what a formula sees of a record.
type rowView interface {
	recordID() string
	formulaValue(field string) string
}

type logical struct {
	and  bool
	args []formula
}

func (l logical) eval(r rowView) bool {
	for _, a := range l.args {
		if a.eval(r) != l.and {
			return !l.and
		}
	}
	return l.and
}

type comparison struct{ left, right operand }

func (c comparison) eval(r rowView) bool { return c.left.value(r) == c.right.value(r) }

type operand struct {
	kind int // opRecordID, opField, opString
	text string
}

const (
	opRecordID = iota
	opField
	opString
)

func (o operand) value(r rowView) string {
	switch o.kind {
	case opRecordID:
		return r.recordID()
	case opField:
		return r.formulaValue(o.text)
	default:
		return o.text
	}
}

type formulaParser struct {
	s     string
	pos   int
	field func(name string) bool
}

// parseFormula parses src; field reports whether a field name exists.
func parseFormula(src string, field func(string) bool) (formula, error) {
	p := &formulaParser{s: src, field: field}
	f, err := p.formula()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.s) {
		return nil, fmt.Errorf("unexpected %q at %d", p.s[p.pos:], p.pos)
	}
	return f, nil
}

func (p *formulaParser) space() {
	for p.pos < len(p.s) && strings.ContainsRune(" \t\r\n", rune(p.s[p.pos])) {
		p.pos++
	}
}

func (p *formulaParser) eat(tok string) bool {
	p.space()
	if strings.HasPrefix(p.s[p.pos:], tok) {
		p.pos += len(tok)
		return true
	}
	return false
}

func (p *formulaParser) formula() (formula, error) {
	p.space()
	for _, fn := range []string{"AND", "OR"} {
		rest := p.s[p.pos:]
		if strings.HasPrefix(rest, fn) && strings.HasPrefix(strings.TrimLeft(rest[len(fn):], " "), "(") {
			p.pos += len(fn)
			p.eat("(")
			l := logical{and: fn == "AND"}
			for {
				arg, err := p.formula()
				if err != nil {
					return nil, err
				}
				l.args = append(l.args, arg)
				if p.eat(")") {
					return l, nil
				}
				if !p.eat(",") {
					return nil, fmt.Errorf("expected , or ) at %d", p.pos)
				}
			}
		}
	}
	left, err := p.operand()
	if err != nil {
		return nil, err
	}
	if !p.eat("=") {
		return nil, fmt.Errorf("expected = at %d (only comparisons with = are supported)", p.pos)
	}
	right, err := p.operand()
	if err != nil {
		return nil, err
	}
	return comparison{left, right}, nil
}

func (p *formulaParser) operand() (operand, error) {
	p.space()
	if p.eat("RECORD_ID()") {
		return operand{kind: opRecordID}, nil
	}
	if p.pos >= len(p.s) {
		return operand{}, fmt.Errorf("unexpected end of formula")
	}
	switch c := p.s[p.pos]; c {
	case '{':
		end := strings.IndexByte(p.s[p.pos:], '}')
		if end < 0 {
			return operand{}, fmt.Errorf("unclosed { at %d", p.pos)
		}
		name := p.s[p.pos+1 : p.pos+end]
		p.pos += end + 1
		if !p.field(name) {
			return operand{}, fmt.Errorf("unknown field names: %s", name)
		}
		return operand{kind: opField, text: name}, nil
	case '\'', '"':
		var b strings.Builder
		for i := p.pos + 1; i < len(p.s); i++ {
			switch p.s[i] {
			case '\\':
				if i+1 < len(p.s) {
					i++
					b.WriteByte(p.s[i])
				}
			case c:
				p.pos = i + 1
				return operand{kind: opString, text: b.String()}, nil
			default:
				b.WriteByte(p.s[i])
			}
		}
		return operand{}, fmt.Errorf("unclosed string at %d", p.pos)
	default:
		return operand{}, fmt.Errorf("unsupported expression at %d: %q", p.pos, p.s[p.pos:])
	}
}
