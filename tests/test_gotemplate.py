"""labkit.gotemplate against Go's text/template (go1.22): outputs and error messages as Go writes them, and
Docker's --format handling (docker/cli cli/command/formatter/formatter.go, templates/templates.go)."""

from __future__ import annotations

import pytest

from labkit.gotemplate import (Method, Stringer, Struct, TemplateError, go_json, go_string, is_table, parse,
                               template_text)

IMG = Struct("*formatter.imageContext", {
    "Repository": "ubuntu", "Tag": "latest", "ID": "a68c429bdb60", "Size": lambda: "7.73MB", "Containers": "0",
    "Labels": {"org.example.a": "1", "b": "two"}, "Tags": ["latest", "16.04"], "Count": 3, "Empty": "",
    "Label": Method(lambda k: {"b": "two"}.get(k, ""), 1), "Plat": Stringer("linux/amd64", {"os": "linux"}),
    "None": [],
})


# (template, expected output) - what Go's text/template (plus docker's functions) writes for IMG
@pytest.mark.parametrize("text, want", [
    ("{{.Repository}}:{{.Tag}}", "ubuntu:latest"),
    ("{{.Repository}}\t{{.ID}}", "ubuntu\ta68c429bdb60"),
    ("{{ .Size }}", "7.73MB"),                                    # a method without arguments
    ("{{json .Repository}}", '"ubuntu"'),
    ("{{json .Labels}}", '{"b":"two","org.example.a":"1"}'),       # encoding/json sorts map keys
    ("{{json .Tags}}", '["latest","16.04"]'),
    ("{{.Tags}}", "[latest 16.04]"),                               # fmt's %v of a slice
    ("{{.Labels}}", "map[b:two org.example.a:1]"),                 # ... and of a map, keys sorted
    ('{{index .Labels "b"}}', "two"),
    ('{{index .Labels "nope"}}', ""),                              # index of a missing key: the zero value
    ('{{index .Tags 1}}', "16.04"),
    ("{{.Labels.b}}", "two"),
    ("{{.Labels.nope}}", "<no value>"),                            # a missing map key prints <no value>
    ('{{.Label "b"}}', "two"),                                     # a method with an argument
    ("{{.Plat}}", "linux/amd64"),                                  # a Stringer prints its String()
    ("{{json .Plat}}", '{"os":"linux"}'),
    ("{{if .Empty}}yes{{else}}no{{end}}", "no"),
    ("{{if .Count}}{{.Count}} tags{{end}}", "3 tags"),
    ('{{if eq .Tag "x"}}a{{else if eq .Tag "latest"}}b{{else}}c{{end}}', "b"),
    ("{{range .Tags}}[{{.}}]{{end}}", "[latest][16.04]"),
    ("{{range $i, $t := .Tags}}{{$i}}={{$t}} {{end}}", "0=latest 1=16.04 "),
    ("{{range $k, $v := .Labels}}{{$k}}:{{$v}};{{end}}", "b:two;org.example.a:1;"),   # maps range in key order
    ("{{range .None}}x{{else}}none{{end}}", "none"),
    ("{{with .Repository}}{{.}}!{{end}}", "ubuntu!"),
    ("{{$r := .Repository}}{{$r}}/{{$.Tag}}", "ubuntu/latest"),
    ("{{- .Tag -}}  \n  {{- .ID }}", "latesta68c429bdb60"),   # trim markers eat spaces and newlines
    ("a {{/* a comment */}}b", "a b"),
    ("{{.Repository | upper}}", "UBUNTU"),                         # a pipeline: the value is the last argument
    ('{{printf "%-8s|%5s|" .Repository .Tag}}', "ubuntu  |latest|"),
    ("{{len .Tags}} {{len .Labels}}", "2 2"),
    ('{{join .Tags ", "}}', "latest, 16.04"),
    ('{{split "a:b" ":"}}', "[a b]"),
    ('{{pad .Tag 1 2}}|', " latest  |"),
    ('{{truncate .Repository 3}}', "ubu"),
    ("{{title .Repository}} {{lower \"ABC\"}}", "Ubuntu abc"),
    ("{{not .Empty}} {{and .Tag .Count}} {{or .Empty .Tag}}", "true 3 latest"),
    ("{{print 1 2 \"a\" 3}}", "1 2a3"),                             # fmt.Sprint: spaces only between non-strings
    ("{{lt 1 2}} {{ge 2.5 2.5}}", "true true"),
    ("{{(.Repository)}}", "ubuntu"),
])
def test_execute_like_go(text, want):
    assert parse(text).execute(IMG) == want


# (template, Go's error) - parse errors name the line; execution errors line:column, the node and Go's words
@pytest.mark.parametrize("text, error", [
    ("{{.Foo}}", 'template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type '
                 "*formatter.imageContext"),
    ("x\n  {{.Repository.Foo}}", 'template: :2:4: executing "" at <.Repository.Foo>: can\'t evaluate field Foo '
                                 "in type string"),
    ("{{.Repository", "template: :1: unclosed action"),
    ("{{.Repository}", 'template: :1: unexpected "}" in operand'),
    ("{{foo .Repository}}", 'template: :1: function "foo" not defined'),
    ("{{end}}", "template: :1: unexpected {{end}}"),
    ("{{if .Tag}}", "template: :1: unexpected EOF"),
    ("{{if}}{{end}}", "template: :1: missing value for if"),
    ("{{$x}}", 'template: :1: undefined variable "$x"'),
    ('{{"unterminated}}', "template: :1: unterminated quoted string"),
    ("{{.Label}}", 'template: :1:2: executing "" at <.Label>: wrong number of args for Label: want 1 got 0'),
    ("{{json .Tag .ID}}", 'template: :1:2: executing "" at <json>: wrong number of args for json: want 1 got 2'),
    ("{{index .Tags 5}}", 'template: :1:2: executing "" at <index>: error calling index: index out of range: 5'),
    ("{{range .Empty}}{{end}}", 'template: :1:8: executing "" at <{{range .Empty}}{{end}}>: range can\'t iterate over '),
    ("{{.Tag | .Repository}}", 'template: :1:9: executing "" at <.Repository>: Repository has arguments but '
                               "cannot be invoked as function"),
    ("{{define \"x\"}}{{end}}", "template: :1: labkit's templates do not support {{define}}"),
])
def test_errors_like_go(text, error):
    with pytest.raises(TemplateError) as e:
        parse(text).execute(IMG)
    assert str(e.value) == error


def test_missingkey_error_is_docker_inspects_fallback():
    data = {"Id": "sha256:abc", "Config": {"Labels": {}}}
    assert parse("{{.Id}}").execute(data, missingkey="error") == "sha256:abc"
    with pytest.raises(TemplateError, match=r'executing "" at <.Nope>: map has no entry for key "Nope"'):
        parse("{{.Nope}}").execute(data, missingkey="error")
    assert parse("{{.Nope}}").execute(data) == "<no value>"


def test_json_of_a_struct_is_dockers_marshal_json():
    # formatter.MarshalJSON: every method without arguments, keys sorted, no spaces, no HTML escaping
    s = Struct("*x", {"B": "<b>", "A": lambda: 1, "M": Method(lambda k: k, 1)}, json_fields={"B": "json <b>"})
    assert go_json(s) == '{"A":1,"B":"json <b>"}'
    assert parse("{{.B}}").execute(s) == "<b>"


@pytest.mark.parametrize("value, text", [
    (None, "<nil>"), (True, "true"), (3, "3"), (1e6, "1e+06"), (123456.0, "123456"), (0.5, "0.5"), (-2.25, "-2.25"),
    ([1, "a"], "[1 a]"), ({"b": 1, "a": [2]}, "map[a:[2] b:1]"),
])
def test_go_string_is_fmt_v(value, text):
    assert go_string(value) == text


@pytest.mark.parametrize("fmt, template, table", [
    ("json", "{{json .}}", False),
    ("table", "", True),
    ("table {{.ID}}\\t{{.Tag}}", "{{.ID}}\t{{.Tag}}", True),   # a table's prefix goes; \t is a tab
    ("  {{.ID}}\\n  ", "{{.ID}}\n", False),                   # spaces trimmed at both ends (not newlines)
    ("{{json .}}", "{{json .}}", False),
])
def test_docker_format_strings(fmt, template, table):
    assert template_text(fmt) == template and is_table(fmt) == table
