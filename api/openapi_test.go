package api

import (
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

type openAPIDoc struct {
	OpenAPI    string                    `yaml:"openapi"`
	Paths      map[string]map[string]any `yaml:"paths"`
	Components struct {
		Parameters map[string]map[string]any `yaml:"parameters"`
		Responses  map[string]any            `yaml:"responses"`
		Schemas    map[string]map[string]any `yaml:"schemas"`
		Headers    map[string]any            `yaml:"headers"`
	} `yaml:"components"`
}

func mustOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := yaml.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("parse openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Fatalf("openapi %q, want 3.1.x", doc.OpenAPI)
	}
	return doc
}

var httpMethods = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "options": true, "head": true, "patch": true, "trace": true}

// TestOpenAPIMatchesRoutes fails when a gin route is undocumented or a documented operation
// has no route, and checks that every path parameter is declared.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := mustOpenAPI(t)
	e := MustServer(t)
	param := regexp.MustCompile(`[:*]([A-Za-z_]+)`) // *file: a catch-all, documented as {file}

	routes := map[string]bool{}
	var heads []string
	for _, r := range e.srv.engine.Routes() {
		if r.Method == "HEAD" { // GET without a body, on every GET route; documented once in the text
			heads = append(heads, "get "+param.ReplaceAllString(r.Path, "{$1}"))
			continue
		}
		routes[strings.ToLower(r.Method)+" "+param.ReplaceAllString(r.Path, "{$1}")] = true
	}
	// Routes other packages hand to the edge with their policies (api/mount), documented here
	// too; they count as served whether or not this test's server mounts them.
	for _, r := range mountedRoutes() {
		routes[strings.ToLower(r.Method)+" "+param.ReplaceAllString(r.Path, "{$1}")] = true
	}
	for _, h := range heads {
		if !routes[h] {
			t.Errorf("HEAD route without GET: %s", h)
		}
	}
	if len(heads) == 0 {
		t.Error("no HEAD routes")
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for method, opv := range item {
			if !httpMethods[method] {
				continue
			}
			op, _ := opv.(map[string]any)
			documented[method+" "+path] = true
			if op["responses"] == nil || op["operationId"] == nil {
				t.Errorf("%s %s: no responses or operationId", method, path)
			}
			// Every {name} in the path is a declared path parameter.
			declared := map[string]bool{}
			for _, list := range []any{item["parameters"], op["parameters"]} {
				for _, p := range asList(list) {
					p = resolveParameter(t, doc, p)
					if p["in"] == "path" {
						declared[p["name"].(string)] = true
					}
				}
			}
			for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1) {
				if !declared[m[1]] {
					t.Errorf("%s %s: path parameter %s not declared", method, path, m[1])
				}
			}
		}
	}
	if len(routes) < 15 {
		t.Fatalf("only %d routes", len(routes))
	}
	for _, r := range sorted(routes) {
		if !documented[r] {
			t.Errorf("route %s is not in openapi.yaml", r)
		}
	}
	for _, d := range sorted(documented) {
		if !routes[d] {
			t.Errorf("openapi.yaml documents %s, which has no route", d)
		}
	}
}

// TestOpenAPIProblemTypes checks that every problem type the server can answer is listed, and
// that every $ref points somewhere.
func TestOpenAPIProblemTypes(t *testing.T) {
	doc := mustOpenAPI(t)
	typ := doc.Components.Schemas["Problem"]["properties"].(map[string]any)["type"].(map[string]any)
	listed := map[string]bool{}
	for _, v := range asAnyList(typ["enum"]) {
		listed[v.(string)] = true
	}
	codes := map[string]bool{}
	for _, v := range asAnyList(doc.Components.Schemas["Problem"]["properties"].(map[string]any)["code"].(map[string]any)["enum"]) {
		codes[v.(string)] = true
	}
	for _, code := range problemCodes() {
		k := kindOf(code)
		if !listed[ProblemTypeBase+k.slug] {
			t.Errorf("problem type %s is not documented", k.slug)
		}
		if !codes[k.code] {
			t.Errorf("problem code %s is not documented", k.code)
		}
		if !strings.Contains(string(openAPIDocument), "`"+k.slug+"`") {
			t.Errorf("problem type %s is not described in the text", k.slug)
		}
	}
	if len(listed) != len(problemCodes()) {
		t.Errorf("%d documented problem types, %d known", len(listed), len(problemCodes()))
	}
	for _, h := range []string{"Retry-After", "Idempotent-Replayed", "X-Allot-Owner", "X-Allot-Stale", "Location", "Allow"} {
		if _, ok := doc.Components.Headers[h]; !ok {
			t.Errorf("response header %s not documented", h)
		}
	}
	if p := doc.Components.Parameters["IdempotencyKey"]; p["in"] != "header" || p["name"] != IdempotencyKeyHeader {
		t.Errorf("request header Idempotency-Key not documented: %v", p)
	}
	for _, m := range regexp.MustCompile(`\$ref: "#/components/(\w+)/([\w-]+)"`).FindAllStringSubmatch(string(openAPIDocument), -1) {
		var ok bool
		switch m[1] {
		case "schemas":
			_, ok = doc.Components.Schemas[m[2]]
		case "parameters":
			_, ok = doc.Components.Parameters[m[2]]
		case "responses":
			_, ok = doc.Components.Responses[m[2]]
		case "headers":
			_, ok = doc.Components.Headers[m[2]]
		}
		if !ok {
			t.Errorf("dangling $ref %s", m[0])
		}
	}
}

func resolveParameter(t *testing.T, doc openAPIDoc, p map[string]any) map[string]any {
	ref, ok := p["$ref"].(string)
	if !ok {
		return p
	}
	name := strings.TrimPrefix(ref, "#/components/parameters/")
	r, ok := doc.Components.Parameters[name]
	if !ok {
		t.Fatalf("dangling parameter $ref %s", ref)
	}
	return r
}

func asAnyList(v any) []any {
	l, _ := v.([]any)
	return l
}

func asList(v any) []map[string]any {
	var out []map[string]any
	for _, x := range asAnyList(v) {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func sorted(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
