package api

import (
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/allot/allot/api/feed"
)

// TestOpenAPIDescribesEveryEventType: the webhooks section has one operation per event type,
// whose body schema exists and pins the type.
func TestOpenAPIDescribesEveryEventType(t *testing.T) {
	var doc struct {
		Webhooks   map[string]map[string]map[string]any `yaml:"webhooks"`
		Components struct {
			Schemas map[string]map[string]any `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	for _, typ := range feed.Types() {
		op := doc.Webhooks[typ]["post"]
		if op == nil {
			t.Errorf("event type %s has no webhooks entry", typ)
			continue
		}
		ref, _ := op["requestBody"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)["$ref"].(string)
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		s := doc.Components.Schemas[name]
		if s == nil {
			t.Errorf("%s: schema %q missing", typ, ref)
			continue
		}
		if !strings.Contains(yamlString(t, s), "const: "+typ) {
			t.Errorf("%s: schema %s does not pin the type", typ, name)
		}
	}
	if len(doc.Webhooks) != len(feed.Types()) {
		t.Errorf("%d webhooks entries, %d event types", len(doc.Webhooks), len(feed.Types()))
	}
}

func yamlString(t *testing.T, v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
