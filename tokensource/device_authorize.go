package tokensource

import (
	"context"
	"encoding/json"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/tokenendpoint"
)

// maxDeviceSeconds bounds the expires_in and interval a device
// authorization answer may give; larger or odd values are ignored.
const maxDeviceSeconds = 24 * 60 * 60

// deviceAuthorization is a device authorization answer (RFC 8628 section
// 3.2): what the user sees, and the device code, which only the grant
// sends.
type deviceAuthorization struct {
	DeviceCode
	deviceCode string
}

// authorize requests a device code (RFC 8628 section 3.1).
func (g *DeviceGrant) authorize(ctx context.Context, o *oauthForm) (*deviceAuthorization, error) {
	form := url.Values{}
	if len(g.Scopes) > 0 {
		form.Set("scope", strings.Join(g.Scopes, " "))
	}
	c := o.call("login", g.DeviceAuthorizationURL, form)
	r, f := o.ep.Do(ctx, c)
	if f != nil {
		return nil, tokenError("login", f)
	}
	if !r.Success() || r.TooLarge || r.ReadErr != nil {
		return nil, tokenError("login", c.Fail(r))
	}
	da, problem := parseDeviceAuthorization(r.Body, o.now())
	switch problem {
	case "":
		return da, nil
	case "error":
		return nil, tokenError("login", c.Fail(r))
	}
	return nil, &TokenError{Op: "login", StatusCode: r.Status,
		Err: errorf("%w: device authorization answer: %s", ErrMalformedResponse, problem)}
}

// parseDeviceAuthorization reads a device authorization answer received
// at now. problem says what is wrong with it, "error" for an answer that
// carries an error code.
func parseDeviceAuthorization(body []byte, now time.Time) (da *deviceAuthorization, problem string) {
	v, err := tokenendpoint.DecodeJSON(body)
	if err != nil {
		return nil, tokenendpoint.DescribeNonJSON(body)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, "not a JSON object"
	}
	str := func(keys ...string) string {
		for _, k := range keys {
			if s, ok := obj[k].(string); ok && s != "" {
				return s
			}
		}
		return ""
	}
	if str("error") != "" {
		return nil, "error"
	}
	da = &deviceAuthorization{deviceCode: str("device_code")}
	da.UserCode = serverText(str("user_code"), 64)
	// Google spells it verification_url.
	da.VerificationURI = serverText(str("verification_uri", "verification_url"), 2048)
	da.VerificationURIComplete = serverText(str("verification_uri_complete", "verification_url_complete"), 2048)
	switch {
	case da.deviceCode == "":
		return nil, "no device_code"
	case da.UserCode == "":
		return nil, "no user_code"
	case da.VerificationURI == "":
		return nil, "no verification_uri"
	}
	if d, ok := seconds(obj["expires_in"]); ok {
		da.Expiry = now.Add(d)
	}
	da.Interval = defaultDeviceInterval
	if d, ok := seconds(obj["interval"]); ok {
		da.Interval = d
	}
	return da, ""
}

// seconds reads a positive number of seconds, a JSON number or a numeric
// string, of at most a day.
func seconds(v any) (time.Duration, bool) {
	var f float64
	var err error
	switch x := v.(type) {
	case json.Number:
		f, err = x.Float64()
	case string:
		f, err = strconv.ParseFloat(strings.TrimSpace(x), 64)
	default:
		return 0, false
	}
	if err != nil || math.IsNaN(f) || f <= 0 || f > maxDeviceSeconds {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}
