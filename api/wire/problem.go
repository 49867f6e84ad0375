package wire

// ProblemContentType is the media type of every error response (RFC 9457).
const ProblemContentType = "application/problem+json"

// ProblemTypeBase prefixes every problem type URI; the rest is the problem's slug, e.g.
// "https://allot.dev/problems/sold-out".
const ProblemTypeBase = "https://allot.dev/problems/"

// Problem is the body of every error response, an RFC 9457 problem detail. Type is stable per
// kind of problem and is what clients switch on; Code is the booking code of the problem
// (edge-only problem types — unsupported media type, payload too large, method not allowed —
// carry "malformed", and an unknown route carries "not_found"). Detail is for humans and may
// change.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	Code     string `json:"code"`
}
