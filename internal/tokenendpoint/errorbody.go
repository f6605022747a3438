package tokenendpoint

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// errorInfo is what an error body says.
type errorInfo struct {
	code, description string
}

// parseErrorBody reads an RFC 6749 error, a form-encoded error or the
// common JSON error shapes ({"error":{"code","message"}}, {"message"},
// {"errors":[{...}]}, RFC 7807 problem details). Both fields come back
// without secrets (redacted, and scrubbed of the exact secrets given) and
// bounded.
func parseErrorBody(body []byte, contentType string, secrets []string) errorInfo {
	var info errorInfo
	media, _, _ := mime.ParseMediaType(contentType)
	if media == "application/x-www-form-urlencoded" {
		if vals, err := url.ParseQuery(string(body)); err == nil {
			info = errorInfo{vals.Get("error"), vals.Get("error_description")}
		}
	} else if v, err := DecodeJSON(body); err == nil {
		if obj, ok := v.(map[string]any); ok {
			info = jsonErrorInfo(obj)
		}
	}
	info.code = Truncate(redact(strings.TrimSpace(scrub(info.code, secrets))), 64)
	info.description = Truncate(redact(strings.TrimSpace(scrub(info.description, secrets))), maxExcerpt)
	return info
}

func jsonErrorInfo(obj map[string]any) errorInfo {
	var info errorInfo
	str := func(o map[string]any, keys ...string) string {
		for _, k := range keys {
			switch v := o[k].(type) {
			case string:
				if v != "" {
					return v
				}
			case fmt.Stringer: // json.Number
				return v.String()
			}
		}
		return ""
	}
	switch e := obj["error"].(type) {
	case string:
		info.code = e
	case map[string]any:
		info.code = str(e, "code", "error", "type", "status")
		info.description = str(e, "message", "description", "error_description", "detail")
	}
	if list, ok := obj["errors"].([]any); ok && len(list) > 0 {
		if first, ok := list[0].(map[string]any); ok {
			if info.code == "" {
				info.code = str(first, "code", "error", "type")
			}
			if info.description == "" {
				info.description = str(first, "message", "detail", "description")
			}
		}
	}
	if info.code == "" {
		info.code = str(obj, "error_code", "errorCode", "code")
	}
	if info.description == "" {
		info.description = str(obj, "error_description", "errorDescription", "message", "msg",
			"error_message", "errorMessage", "detail", "title")
	}
	return info
}

// configCodes are RFC 6749 errors that blame the client's configuration,
// not the user's credentials or refresh token: logging in again would not
// help, so they are not Rejected.
var configCodes = map[string]bool{
	"invalid_client": true, "unauthorized_client": true, "unsupported_grant_type": true,
	"invalid_scope": true,
}

// deadWords mark an error body saying a refresh token is unusable.
var deadWords = []string{"invalid", "expired", "reuse", "revoked", "not found", "unknown"}

// rejected decides whether an error answer means the credentials or the
// refresh token are dead (re-login, or re-authenticate), rather than a
// transient or configuration failure. Only a refresh is judged by the
// words of the error body.
func rejected(refresh bool, status int, info errorInfo) bool {
	code := strings.ToLower(info.code)
	if configCodes[code] {
		return false
	}
	if code == "invalid_grant" {
		return true
	}
	if status < 400 || status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests {
		return false
	}
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
		return true
	}
	if !refresh {
		return false
	}
	text := code + " " + strings.ToLower(info.description)
	for _, w := range deadWords {
		if strings.Contains(text, w) {
			return true
		}
	}
	return false
}

// diagnose names what is wrong with a success body that held no token.
func diagnose(body []byte) string {
	if len(bytes.TrimSpace(body)) == 0 {
		return "empty body"
	}
	if _, err := DecodeJSON(body); err != nil {
		return DescribeNonJSON(body)
	}
	return "no access token"
}
