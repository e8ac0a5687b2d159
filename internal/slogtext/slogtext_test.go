package slogtext

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	got := Parse(`time=2026-12-07T08:00:00Z level=INFO msg="parley started" addr=:8080 note="a \"quoted\" word"`)
	want := map[string]string{"time": "2026-12-07T08:00:00Z", "level": "INFO", "msg": "parley started", "addr": ":8080", "note": `a "quoted" word`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
