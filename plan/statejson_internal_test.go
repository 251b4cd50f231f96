package plan

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestDecodeFieldKnowsEveryField: every field MarshalJSON writes (stateJSON's) is one
// DecodeState reads, so that a new kind of object added to the one is not refused by
// the other when a record is read back.
func TestDecodeFieldKnowsEveryField(t *testing.T) {
	typ := reflect.TypeFor[stateJSON]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		s := NewState()
		known, err := decodeField(json.NewDecoder(strings.NewReader("null")), name, &s)
		if !known || err != nil {
			t.Errorf("field %q of stateJSON: known %v, err %v", name, known, err)
		}
	}
}
