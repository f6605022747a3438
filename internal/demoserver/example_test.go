package demoserver_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/tokenrefresh/tokenrefresh/internal/demoserver"
)

// Example logs in through the JSON API, reads a protected resource, and
// shows that reusing a rotated refresh token revokes the session.
func Example() {
	s := demoserver.New(demoserver.Config{})
	ts := httptest.NewServer(s)
	defer ts.Close()

	post := func(path, body string) (int, map[string]any) {
		resp, err := http.Post(ts.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	_, pair := post("/auth/login", `{"username":"alice","password":"wonderland"}`)
	fmt.Println("expires_in:", pair["expires_in"])

	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/api/profile", nil)
	req.Header.Set("Authorization", "Bearer "+pair["access_token"].(string))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println("profile:", resp.StatusCode)

	rt := `{"refresh_token":"` + pair["refresh_token"].(string) + `"}`
	status, _ := post("/auth/refresh", rt)
	fmt.Println("refresh:", status)
	status, e := post("/auth/refresh", rt)
	fmt.Println("reuse:", status, e["error"], "-", e["error_description"])
	fmt.Println("reuse detections:", s.Stats().ReuseDetections)
	// Output:
	// expires_in: 900
	// profile: 200
	// refresh: 200
	// reuse: 401 invalid_grant - refresh token reused
	// reuse detections: 1
}
