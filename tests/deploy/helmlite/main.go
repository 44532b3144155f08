// helmlite: renders a Helm chart's templates with Go's own text/template and the handful of
// Helm/Sprig functions this chart uses, for tests on machines without a helm binary.
//
// Input (stdin, JSON): {"chartDir": "...", "values": {...}, "chart": {"Name":..., "Version":...,
// "AppVersion":...}, "release": {"Name":..., "Namespace":..., "Service": "Helm"}}
// Output (stdout, JSON): {"files": {"templates/x.yaml": "rendered text", ...}} or {"error": "..."}.
// toYaml emits block YAML with every string quoted; everything else behaves as in Helm.
// Only the standard library is used, so it builds offline.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"text/template"
)

type input struct {
	ChartDir string                 `json:"chartDir"`
	Values   map[string]interface{} `json:"values"`
	Chart    map[string]interface{} `json:"chart"`
	Release  map[string]interface{} `json:"release"`
}

func empty(v interface{}) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return rv.Len() == 0
	case reflect.Bool:
		return !rv.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return rv.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return rv.Float() == 0
	case reflect.Ptr, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

func strval(v interface{}) string {
	switch s := v.(type) {
	case nil:
		return ""
	case string:
		return s
	case []byte:
		return string(s)
	case error:
		return s.Error()
	case fmt.Stringer:
		return s.String()
	}
	return fmt.Sprintf("%v", v)
}

func toInt64(v interface{}) int64 {
	switch n := v.(type) {
	case float64:
		return int64(n)
	case int:
		return int64(n)
	case int64:
		return n
	case string:
		i, _ := strconv.ParseInt(n, 10, 64)
		return i
	case bool:
		if n {
			return 1
		}
	}
	return 0
}

func scalar(v interface{}) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "null", true
	case string:
		return strconv.Quote(x), true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		if x == float64(int64(x)) {
			return strconv.FormatInt(int64(x), 10), true
		}
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case map[string]interface{}:
		if len(x) == 0 {
			return "{}", true
		}
	case []interface{}:
		if len(x) == 0 {
			return "[]", true
		}
	default:
		b, _ := json.Marshal(x)
		return string(b), true
	}
	return "", false
}

// toYaml renders a value decoded from JSON as block-style YAML lines (map keys sorted, as Helm).
func toYaml(v interface{}) []string {
	if s, ok := scalar(v); ok {
		return []string{s}
	}
	out := []string{}
	switch x := v.(type) {
	case map[string]interface{}:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if s, ok := scalar(x[k]); ok {
				out = append(out, strconv.Quote(k)+": "+s)
				continue
			}
			out = append(out, strconv.Quote(k)+":")
			for _, l := range toYaml(x[k]) {
				out = append(out, "  "+l)
			}
		}
	case []interface{}:
		for _, item := range x {
			for i, l := range toYaml(item) {
				if i == 0 {
					out = append(out, "- "+l)
				} else {
					out = append(out, "  "+l)
				}
			}
		}
	}
	return out
}

func indent(n int, s string) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fail(err)
	}
	root := template.New("chart").Option("missingkey=zero")
	includeDepth := 0
	funcs := template.FuncMap{
		"include": func(name string, data interface{}) (string, error) {
			includeDepth++
			defer func() { includeDepth-- }()
			if includeDepth > 100 {
				return "", errors.New("include: too deep")
			}
			var buf bytes.Buffer
			err := root.ExecuteTemplate(&buf, name, data)
			return buf.String(), err
		},
		"required": func(msg string, v interface{}) (interface{}, error) {
			if empty(v) {
				return nil, errors.New(msg)
			}
			return v, nil
		},
		"fail": func(msg string) (string, error) { return "", errors.New(msg) },
		"default": func(d interface{}, given ...interface{}) interface{} {
			if len(given) == 0 || empty(given[0]) {
				return d
			}
			return given[0]
		},
		"empty": empty,
		"trunc": func(n int, s string) string {
			if len(s) > n {
				return s[:n]
			}
			return s
		},
		"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
		"trim":       strings.TrimSpace,
		"contains":   func(sub, s string) bool { return strings.Contains(s, sub) },
		"replace":    func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
		"quote": func(vs ...interface{}) string {
			out := []string{}
			for _, v := range vs {
				if v != nil {
					out = append(out, strconv.Quote(strval(v)))
				}
			}
			return strings.Join(out, " ")
		},
		"indent":  func(n int, s string) string { return indent(n, s) },
		"nindent": func(n int, s string) string { return "\n" + indent(n, s) },
		"toYaml": func(v interface{}) string { return strings.TrimSuffix(strings.Join(toYaml(v), "\n"), "\n") },
		"toString": strval,
		"int":      func(v interface{}) int { return int(toInt64(v)) },
		"int64":    toInt64,
		"dict": func(kv ...interface{}) map[string]interface{} {
			m := map[string]interface{}{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[strval(kv[i])] = kv[i+1]
			}
			return m
		},
	}
	root.Funcs(funcs)

	tdir := filepath.Join(in.ChartDir, "templates")
	entries, err := os.ReadDir(tdir)
	if err != nil {
		fail(err)
	}
	names := []string{}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !(strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".tpl") || strings.HasSuffix(n, ".txt")) {
			continue
		}
		text, err := os.ReadFile(filepath.Join(tdir, n))
		if err != nil {
			fail(err)
		}
		if _, err := root.New("templates/" + n).Parse(string(text)); err != nil {
			fail(err)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	data := map[string]interface{}{
		"Values":  in.Values,
		"Chart":   in.Chart,
		"Release": in.Release,
	}
	files := map[string]string{}
	for _, n := range names {
		if strings.HasPrefix(n, "_") {
			continue
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, "templates/"+n, data); err != nil {
			fail(err)
		}
		files["templates/"+n] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	json.NewEncoder(os.Stdout).Encode(map[string]interface{}{"files": files})
}

func fail(err error) {
	json.NewEncoder(os.Stdout).Encode(map[string]string{"error": err.Error()})
	os.Exit(0)
}
