package itsm

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// fakeServiceNow implements the Table API for the incident table as
// documented: POST 201 {"result": record}, GET with sysparm_query
// {"result": [records]}, PATCH 200 {"result": record}, and errors as
// {"error": {"message", "detail"}, "status": "failure"}.
type fakeServiceNow struct {
	fakeAPI
	incidents map[string]*snIncident // by sys_id
	order     []string
}

type snIncident struct {
	SysID, Number, CorrelationID, ShortDescription, Description string
	Urgency, Impact, State, CloseCode, CloseNotes, Group        string
	Parent                                                      string // parent_incident: a sys_id
	WorkNotes                                                   []string
}

func newFakeServiceNow() *fakeServiceNow {
	f := &fakeServiceNow{incidents: map[string]*snIncident{}}
	f.auth = func(r *http.Request) bool {
		u, p, ok := r.BasicAuth()
		return ok && u == "quell" && p == "s3cret"
	}
	f.errBody = func(code int, msg string) any {
		return map[string]any{"error": map[string]string{"message": msg, "detail": fmt.Sprintf("fake ServiceNow answered %d", code)}, "status": "failure"}
	}
	f.retryAfter = "1"
	return f
}

func (f *fakeServiceNow) config(url string) Config {
	return Config{ServiceNow: []ServiceNowConfig{{Common: Common{Name: "prod"}, URL: url, Username: "quell", Password: "s3cret",
		Fields: map[string]string{"assignment_group": "{{with .CommonLabels.team}}{{.}}{{else}}ops{{end}}"}}}}
}

func (f *fakeServiceNow) result(in *snIncident) map[string]string {
	return map[string]string{"sys_id": in.SysID, "number": in.Number, "state": in.State, "correlation_id": in.CorrelationID}
}

func (f *fakeServiceNow) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, answered := f.intercept(w, r)
	if answered {
		return
	}
	const table = "/api/now/table/incident"
	switch {
	case r.Method == http.MethodGet && r.URL.Path == table:
		q := r.URL.Query().Get("sysparm_query")
		var out []map[string]string
		for _, id := range f.order {
			if in := f.incidents[id]; q == "correlation_id="+in.CorrelationID {
				out = append(out, f.result(in))
			}
		}
		reply(w, http.StatusOK, map[string]any{"result": out})
	case r.Method == http.MethodPost && r.URL.Path == table:
		var in map[string]string
		if err := json.Unmarshal(body, &in); err != nil {
			f.error(w, http.StatusBadRequest, "Exception while reading request: "+err.Error())
			return
		}
		if in["short_description"] == "" {
			f.error(w, http.StatusBadRequest, "Mandatory field short_description is empty")
			return
		}
		n := len(f.order) + 1
		inc := &snIncident{SysID: fmt.Sprintf("%032x", n), Number: fmt.Sprintf("INC%07d", 10000+n), State: "1",
			CorrelationID: in["correlation_id"], ShortDescription: in["short_description"], Description: in["description"],
			Urgency: in["urgency"], Impact: in["impact"], Group: in["assignment_group"]}
		f.incidents[inc.SysID] = inc
		f.order = append(f.order, inc.SysID)
		w.Header().Set("Location", "http://"+r.Host+table+"/"+inc.SysID)
		reply(w, http.StatusCreated, map[string]any{"result": f.result(inc)})
	case r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, table+"/"):
		inc := f.incidents[strings.TrimPrefix(r.URL.Path, table+"/")]
		if inc == nil {
			f.error(w, http.StatusNotFound, "No Record found")
			return
		}
		var in map[string]string
		if err := json.Unmarshal(body, &in); err != nil {
			f.error(w, http.StatusBadRequest, "Exception while reading request: "+err.Error())
			return
		}
		if in["state"] == "6" && (in["close_code"] == "" || in["close_notes"] == "") {
			f.error(w, http.StatusBadRequest, "Data Policy Exception: Resolution code, Resolution notes are mandatory")
			return
		}
		if v, ok := in["parent_incident"]; ok {
			if f.incidents[v] == nil {
				f.error(w, http.StatusBadRequest, "Invalid reference for field parent_incident")
				return
			}
			inc.Parent = v
		}
		if v, ok := in["work_notes"]; ok {
			inc.WorkNotes = append(inc.WorkNotes, v)
		}
		if v, ok := in["state"]; ok {
			inc.State = v
		}
		inc.CloseCode, inc.CloseNotes = in["close_code"], in["close_notes"]
		reply(w, http.StatusOK, map[string]any{"result": f.result(inc)})
	default:
		f.error(w, http.StatusBadRequest, "Requested URI does not represent any resource")
	}
}

// tickets are the sys_ids of incidents correlated to id.
func (f *fakeServiceNow) tickets(id string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, sid := range f.order {
		if f.incidents[sid].CorrelationID == id {
			out = append(out, sid)
		}
	}
	return out
}

func (f *fakeServiceNow) resolved(ticket string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.incidents[ticket].State == "6"
}
