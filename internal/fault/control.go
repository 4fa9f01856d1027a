package fault

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// RegisterControl serves the fault and counter controls under prefix
// (for example "/_reference"):
//
//	GET    prefix/faults         the installed rules
//	POST   prefix/faults         add a rule (JSON Rule); answers {"id": N}
//	DELETE prefix/faults         remove every rule
//	DELETE prefix/faults/{id}    remove one rule
//	GET    prefix/counters       request counters by operation
//	DELETE prefix/counters       zero the counters
//	GET    prefix/throttle       the throttle (latency, rate, burst)
//	PUT    prefix/throttle       install a throttle (JSON Throttle; {} removes it)
//
// These routes are for tests and demos only; they are never counted or faulted.
func (in *Injector) RegisterControl(mux *http.ServeMux, prefix string, writeErr ErrorWriter) {
	mux.HandleFunc("GET "+prefix+"/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, in.Rules())
	})
	mux.HandleFunc("POST "+prefix+"/faults", func(w http.ResponseWriter, r *http.Request) {
		var rule Rule
		if err := decodeStrict(r, &rule, "rule"); err != nil {
			writeErr(w, http.StatusBadRequest, err.Error())
			return
		}
		id, err := in.Add(rule)
		if err != nil {
			writeErr(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"id": id})
	})
	mux.HandleFunc("DELETE "+prefix+"/faults", func(w http.ResponseWriter, r *http.Request) {
		in.Clear()
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("DELETE "+prefix+"/faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil {
			writeErr(w, http.StatusBadRequest, "fault: id must be a number")
			return
		}
		if !in.Remove(id) {
			writeErr(w, http.StatusNotFound, "fault: no such rule")
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET "+prefix+"/counters", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, in.Counts())
	})
	mux.HandleFunc("DELETE "+prefix+"/counters", func(w http.ResponseWriter, r *http.Request) {
		in.ResetCounts()
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET "+prefix+"/throttle", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, in.Throttle())
	})
	mux.HandleFunc("PUT "+prefix+"/throttle", func(w http.ResponseWriter, r *http.Request) {
		var t Throttle
		if err := decodeStrict(r, &t, "throttle"); err != nil {
			writeErr(w, http.StatusBadRequest, err.Error())
			return
		}
		if err := in.SetThrottle(t); err != nil {
			writeErr(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, in.Throttle())
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeStrict decodes a control request's JSON body (at most 1 MiB) into
// v, refusing unknown fields; what names v in the error.
func decodeStrict(r *http.Request, v any, what string) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("fault: read body: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("fault: decode %s: %w", what, err)
	}
	return nil
}
