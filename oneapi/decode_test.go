package oneapi_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/erpconnector/erpconnector/oneapi"
)

// FuzzDecodeReadModels feeds arbitrary bytes to the decoders the client uses:
// they must never panic, and whatever decodes must survive a re-encode.
func FuzzDecodeReadModels(f *testing.F) {
	f.Add([]byte(`{"id":"org:8872d4f8-cf33-456e-8084-41bacbc0fb2a","externalId":"4423422","customerType":"COMPANY","billingAddress":{"id":"x","type":"BILLING"},"additionalFields":{"r":{"name":"r","value":2}},"currency":null,"firstUser":{"id":"u","role":{"id":"r","organizationId":null}}}`))
	f.Add([]byte(`{"listElement":[{"id":"a"}],"totalElement":1,"nextPage":null}`))
	f.Add([]byte(`{"nextId":212,"events":[{"clientId":"org:1","type":"CREATE"}]}`))
	f.Add([]byte(`{"additionalFields":{"x":{"value":[1,2]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, b, &oneapi.Client{})
		roundTrip(t, b, &oneapi.Page[oneapi.Client]{})
		roundTrip(t, b, &oneapi.SyncFeed{})
		roundTrip(t, b, &oneapi.AdditionalData{})
		roundTrip(t, b, &oneapi.CreateClientResponse{})
	})
}

func roundTrip[T any](t *testing.T, b []byte, v *T) {
	if json.Unmarshal(b, v) != nil {
		return
	}
	again, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("re-encode %T: %v", v, err)
	}
	var w T
	if err := json.Unmarshal(again, &w); err != nil {
		t.Fatalf("decode of re-encoded %T: %v", v, err)
	}
	third, _ := json.Marshal(&w)
	if !reflect.DeepEqual(again, third) {
		t.Fatalf("%T not stable:\n%s\n%s", v, again, third)
	}
}
