#!/usr/bin/env python3
"""Renders small Jinja templates with Python's jinja2, configured as transformers'
apply_chat_template configures it, and writes tests/data/text/jinja_cases.json: the
independent reference for lathe's Jinja engine unit tests (tests/text/jinja_test.cpp).

Run: python3 scripts/jinja_reference.py   (needs jinja2 >= 3.1)
"""
import datetime
import json
import os

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.datetime(2025, 7, 10, 12, 0, 0).strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


MSGS = [{"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!", "tool_calls": [
            {"function": {"name": "f", "arguments": {"b": 1, "a": [1.5, None, True]}}}]}]

# (name, template, context)
CASES = [
    # whitespace control, trim_blocks, lstrip_blocks
    ("ws/trim_blocks", "{% if true %}\nA\n{% endif %}\nB", {}),
    ("ws/lstrip_blocks", "  {% if true %}\n  x\n  {% endif %}\ny", {}),
    ("ws/lstrip_not_var", "  {{ 1 }}\n  {# c #}\nz", {}),
    ("ws/minus", "a  \n  {%- if true -%}  \n b  {%- endif %}\n c", {}),
    ("ws/var_minus", "a \n {{- 'x' -}} \n b", {}),
    ("ws/plus", "  {%+ if true %}x{% endif +%}\ny", {}),
    ("ws/trailing_newline", "abc\n", {}),
    ("ws/two_trailing_newlines", "abc\n\n", {}),
    ("ws/crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\n", {}),
    ("ws/comment_trim", "a\n{# comment #}\nb\n  {#- x -#}  c", {}),
    ("ws/raw", "{% raw %}{{ x }}{% if %}{% endraw %}!", {}),
    ("ws/raw_minus", "a {%- raw -%} {{ y }} {%- endraw -%} b", {}),
    ("ws/lstrip_tab", "\t{% if true %}t{% endif %}", {}),
    ("ws/mid_line_block", "x {% if true %}y{% endif %} z", {}),
    # literals and printing
    ("lit/numbers", "{{ 1 }} {{ 1.0 }} {{ 1.5e3 }} {{ 1e20 }} {{ 0.1 + 0.2 }} {{ 1_000 }} {{ -0.0 }}", {}),
    ("lit/small_floats", "{{ 0.0001 }} {{ 0.00001 }} {{ 123456789012345680.0 }} {{ 1e16 }} {{ 1e15 }}", {}),
    ("lit/strings", r"""{{ 'a\'b' }}|{{ "c\"d" }}|{{ 'tab\there' }}|{{ 'x' 'y' }}|{{ '\u00e9\x41' }}""", {}),
    ("lit/containers", "{{ [1, 'a', none, true, 1.5] }} {{ {'k': [1], 'j': {'x': False}} }} {{ (1,) }} {{ (1, 2) }} {{ () }}", {}),
    ("lit/repr_quotes", "{{ [\"it's\", 'say \"hi\"', 'both \\' \"', 'nl\\n'] }}", {}),
    ("lit/none_bool", "{{ none }} {{ None }} {{ true }} {{ True }} {{ false }}", {}),
    ("lit/undefined_prints_empty", "[{{ nothing }}]", {}),
    ("lit/unicode", "{{ 'héllo wörld 日本' | upper }} {{ 'ÀÉ' | lower }} {{ '日本語'|length }} {{ 'héllo'[1] }} {{ 'héllo'[1:3] }}", {}),
    # arithmetic
    ("math/int_float", "{{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 2.0 ** 3 }}", {}),
    ("math/precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ 10 - 2 - 3 }} {{ 1 ~ 2 * 3 }} {{ 2 * 3 ~ 4 }}", {}),
    ("math/concat_binds_tighter_than_plus", "{{ 1 + 2 ~ 3 }}", {}),
    ("math/filter_binds_tighter", "{{ 'a' ~ ' b ' | trim ~ 'c' }} {{ -3 | abs }} {{ 2 * [1, 2] | length }}", {}),
    ("math/bool_arith", "{{ true + 1 }} {{ true * 3 }} {{ false - 1 }}", {}),
    ("math/string_ops", "{{ 'ab' * 3 }} {{ 3 * 'x' }} {{ 'a' + 'b' }} {{ 'a' ~ 1 ~ none ~ true }} {{ [1] + [2, 3] }} {{ [0] * 3 }}", {}),
    ("math/percent_format", "{{ '%s-%d-%.2f' % ('a', 3, 1.5) }} {{ '%s' % 'x' }} {{ '%05d|%x' % (42, 255) }}", {}),
    ("math/div_zero", "{{ 1 / 0 }}", {}),
    ("math/str_plus_int", "{{ 'a' + 1 }}", {}),
    ("math/str_plus_dict", "{{ 'a' + {} }}", {}),
    ("math/list_plus_str", "{{ [1] + 'a' }}", {}),
    ("math/int_plus_str", "{{ 1 + 'a' }}", {}),
    ("math/neg_str", "{{ -'a' }}", {}),
    ("math/undefined_plus", "{{ x + 1 }}", {}),
    ("math/undefined_concat", "{{ x ~ 'a' }}", {}),
    # comparisons and logic
    ("cmp/basic", "{{ 1 < 2 }} {{ 2 <= 2 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 == 1.0 }} {{ 1 == true }} {{ 'a' == 'a' }} {{ 1 != 2 }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }}", {}),
    ("cmp/mixed_eq", "{{ 1 == '1' }} {{ none == none }} {{ [1] == [1] }} {{ (1,) == [1] }} {{ {'a': 1} == {'a': 1} }}", {}),
    ("cmp/mixed_lt", "{{ 1 < 'a' }}", {}),
    ("cmp/in", "{{ 'a' in 'cat' }} {{ 1 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }} {{ not 'x' in 'y' }} {{ 'a' in x }}", {}),
    ("cmp/in_bad", "{{ 1 in 'abc' }}", {}),
    ("logic/values", "{{ 0 or 'x' }} {{ 'a' and 'b' }} {{ '' and 'b' }} {{ none or [] }} {{ not [] }} {{ not 0 and 1 }}", {}),
    ("logic/truthiness", "{% for v in [0, 1, '', 'a', [], [0], {}, {'a': 1}, none, 0.0, 0.5] %}{{ 'T' if v else 'F' }}{% endfor %}", {}),
    ("logic/condexpr", "{{ 'y' if true else 'n' }} {{ 'y' if false else 'n' }} [{{ 'y' if false }}] {{ 1 if 0 else 2 if 0 else 3 }}", {}),
    # access
    ("access/attr_vs_item", "{{ d.items is defined }} {{ d['items'] }} {{ d.x }} {{ d['x'] }} {{ d.get('x') }} {{ d.get('zz', 5) }} {{ d.get('zz') }}", {"d": {"items": [1], "x": 2}}),
    ("access/missing", "[{{ d.nope }}][{{ d['nope'] }}][{{ l[10] }}][{{ l[-10] }}][{{ (none).x }}]", {"d": {}, "l": [1]}),
    ("access/undefined_attr", "{{ missing.attr }}", {}),
    ("access/undefined_item", "{{ missing['a'] }}", {}),
    ("access/index", "{{ l[0] }} {{ l[-1] }} {{ l.1 }} {{ 'abc'[1] }} {{ 'abc'[-1] }} {{ m.content.0.type }}", {"l": [10, 20, 30], "m": {"content": [{"type": "text"}]}}),
    ("access/slices", "{{ l[1:] }} {{ l[:-1] }} {{ l[::2] }} {{ l[::-1] }} {{ l[5:] }} {{ 'hello'[1:4] }} {{ 'hello'[::-1] }} {{ l[-2:] }} {{ l[1:3:1] }}", {"l": [1, 2, 3, 4]}),
    ("access/string_attr", "{{ 'abc'.upper() }} {{ 'abc'.nope is defined }}", {}),
    ("access/namespace_item", "{% set ns = namespace(a=1) %}{{ ns.a }} {{ ns['a'] }} {{ ns.b is defined }}", {}),
    # if / for / loop variables
    ("if/elif", "{% for x in [1, 2, 3] %}{% if x == 1 %}one{% elif x == 2 %}two{% else %}other{% endif %};{% endfor %}", {}),
    ("for/loop_vars", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}", {}),
    ("for/prev_next", "{% for x in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }};{% endfor %}", {}),
    ("for/cycle_changed", "{% for x in [1, 1, 2, 2, 3] %}{{ loop.cycle('a', 'b') }}{{ loop.changed(x) }} {% endfor %}", {}),
    ("for/else", "{% for x in [] %}x{% else %}empty{% endfor %}{% for x in [1] %}{{ x }}{% else %}no{% endfor %}", {}),
    ("for/filter", "{% for x in range(10) if x % 3 == 0 %}{{ x }}:{{ loop.index }}/{{ loop.length }} {% endfor %}", {}),
    ("for/unpack", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}", {"d": {"z": 1, "a": 2}}),
    ("for/dict_keys", "{% for k in d %}{{ k }}{% endfor %}", {"d": {"b": 1, "a": 2}}),
    ("for/break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("for/nested_loop", "{% for a in [1, 2] %}{% for b in [3, 4] %}{{ loop.index }}{{ a }}{{ b }} {% endfor %}{{ loop.index }}|{% endfor %}", {}),
    ("for/undefined", "[{% for x in nothing %}x{% endfor %}]", {}),
    ("for/none", "{% for x in none %}x{% endfor %}", {}),
    ("for/int", "{% for x in 3 %}x{% endfor %}", {}),
    ("for/unpack_error", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", {}),
    ("for/range", "{{ range(3) | list }} {{ range(1, 7, 2) | list }} {{ range(5, 0, -2) | list }}", {}),
    # scoping
    ("scope/loop_set_not_leaking", "{% set x = 0 %}{% for i in range(3) %}{{ x }}{% set x = i + 10 %}{{ x }} {% endfor %}{{ x }}", {}),
    ("scope/if_set_leaks", "{% if true %}{% set y = 3 %}{% endif %}{{ y }}", {}),
    ("scope/namespace", "{% set ns = namespace(n=0, s='') %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.n }} {{ ns.s }}", {}),
    ("scope/namespace_dict", "{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}", {}),
    ("scope/set_non_namespace", "{% set d = {} %}{% set d.x = 1 %}", {}),
    ("scope/tuple_set", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c, d = [3, 4] %}{{ c }}{{ d }}", {}),
    ("scope/block_set", "{% set x %}\n  hello {{ 1 + 1 }}\n{% endset %}[{{ x }}]{% set y | upper %}abc{% endset %}{{ y }}", {}),
    ("scope/context_shadow", "{% set messages = messages[1:] %}{{ messages | length }}", {"messages": MSGS}),
    ("scope/with", "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]", {}),
    # macros
    ("macro/basic", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('a') }} {{ greet('b', '?') }} {{ greet(name='c', punct='.') }}", {}),
    ("macro/late_binding", "{% set x = 1 %}{% macro m() %}{{ x }}{% endmacro %}{% set x = 2 %}{{ m() }}", {}),
    ("macro/recursive", "{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(4) }}", {}),
    ("macro/local_set", "{% set v = 'outer' %}{% macro m() %}{% set v = 'inner' %}{{ v }}{% endmacro %}{{ m() }} {{ v }}", {}),
    ("macro/returns_string", "{% macro m() %}ab{% endmacro %}{{ m() | length }} {{ m() + 'c' }} {{ m() == 'ab' }}", {}),
    ("macro/missing_arg", "{% macro m(a, b) %}[{{ a }}][{{ b }}]{% endmacro %}{{ m(1) }}", {}),
    ("macro/varargs_kwargs", "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k=4) }}", {}),
    ("macro/too_many_args", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}", {}),
    ("macro/unknown_kwarg", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(b=2) }}", {}),
    ("macro/default_uses_param", "{% macro m(a, b=a * 2) %}{{ a }},{{ b }}{% endmacro %}{{ m(3) }}", {}),
    ("macro/whitespace", "{% macro m(x) %}\n  <{{ x }}>\n{% endmacro %}\n{{ m(1) }}\n{{- m(2) }}", {}),
    ("call/caller", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}inside {{ 1 + 1 }}{% endcall %}", {}),
    ("call/caller_args", "{% macro each(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(x) each([1, 2]) %}[{{ x }}]{% endcall %}", {}),
    ("filter/block", "{% filter upper %}abc {{ 'd' }}{% endfilter %}|{% filter trim | title %}  hello world  {% endfilter %}", {}),
    # tests
    ("test/types", "{% for v in [none, true, 1, 1.5, 'a', [1], {'a': 1}] %}{{ v is none }}{{ v is boolean }}{{ v is integer }}{{ v is float }}{{ v is number }}{{ v is string }}{{ v is mapping }}{{ v is iterable }}{{ v is sequence }}{{ v is callable }}|{% endfor %}", {}),
    ("test/undefined_types", "{{ x is defined }}{{ x is undefined }}{{ x is none }}{{ x is iterable }}{{ x is sequence }}{{ x is string }}{{ x is mapping }}{{ x is number }}", {}),
    ("test/compare", "{{ 4 is divisibleby 2 }}{{ 4 is divisibleby(3) }}{{ 3 is odd }}{{ 3 is even }}{{ 1 is eq 1 }}{{ 1 is ne 1 }}{{ 2 is gt 1 }}{{ 2 is lt 1 }}{{ 2 is ge 2 }}{{ 2 is le 1 }}{{ 1 is in [1] }}{{ 'a' is equalto 'a' }}", {}),
    ("test/bool_tests", "{{ true is true }}{{ 1 is true }}{{ false is false }}{{ 0 is false }}{{ 'abc' is lower }}{{ 'ABC' is upper }}{{ 'aB' is lower }}", {}),
    ("test/not", "{{ 1 is not none }}{{ none is not none }}{{ x is not defined }}", {}),
    ("test/sameas", "{{ none is sameas none }}{{ true is sameas true }}{{ 1 is sameas true }}", {}),
    ("test/callable", "{% macro m() %}{% endmacro %}{{ m is callable }}{{ 'a'.upper is callable }}{{ range is callable }}", {}),
    # filters
    ("filter/strings", "{{ '  a b  ' | trim }}|{{ 'xxaxx' | trim('x') }}|{{ 'hello world' | title }}|{{ \"they're bill's-friends (from [uk])\" | title }}|{{ 'hELLO' | capitalize }}|{{ 'abc' | upper }}|{{ 'ABC' | lower }}", {}),
    ("filter/replace", "{{ 'aaa' | replace('a', 'b') }} {{ 'aaa' | replace('a', 'b', 2) }} {{ 'abc' | replace('', '-') }}", {}),
    ("filter/length", "{{ [1, 2] | length }} {{ 'abc' | count }} {{ {'a': 1} | length }} {{ x | length }}", {}),
    ("filter/first_last", "{{ [1, 2, 3] | first }} {{ [1, 2, 3] | last }} {{ 'abc' | first }} {{ 'abc' | last }} [{{ [] | first }}]", {}),
    ("filter/join", "{{ [1, 2, 3] | join(', ') }} {{ ['a', 'b'] | join }} {{ users | join(', ', attribute='name') }}", {"users": [{"name": "x"}, {"name": "y"}]}),
    ("filter/default", "{{ x | default('d') }} {{ none | default('d') }} {{ '' | default('d', true) }} {{ 0 | d(5, true) }} {{ 'v' | default('d') }} {{ false | default('d') }}", {}),
    ("filter/list_string", "{{ 'abc' | list }} {{ {'a': 1, 'b': 2} | list }} {{ [1, 'a'] | string }} {{ 1.0 | string }} {{ none | string }}", {}),
    ("filter/int_float", "{{ '42' | int }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3.9 | int }} {{ '1.5' | float }} {{ 'y' | float }} {{ 2 | float }} {{ true | int }} {{ '0x1A' | int(0, 16) }}", {}),
    ("filter/abs_round", "{{ -3 | abs }} {{ -2.5 | abs }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 2.675 | round(2) }} {{ 1.234 | round(1, 'floor') }} {{ 1.234 | round(1, 'ceil') }} {{ 5 | round }}", {}),
    ("filter/items_keys", "{% for k, v in d | items %}{{ k }}{{ v }}{% endfor %} {{ d.keys() | list }} {{ d.values() | list }} {{ d.items() | list }}", {"d": {"b": 1, "a": 2}}),
    ("filter/map", "{{ users | map(attribute='name') | join(',') }} {{ ['a', 'b'] | map('upper') | list }} {{ users | map(attribute='missing', default='?') | list }} {{ [1, 2] | map('string') | join }}", {"users": [{"name": "x"}, {"name": "y"}]}),
    ("filter/select", "{{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3, 4] | reject('odd') | list }} {{ [0, 1, '', 'a'] | select | list }} {{ ['a', 'b', 'c'] | reject('equalto', 'b') | list }} {{ [1, 5, 3] | select('gt', 2) | list }}", {}),
    ("filter/selectattr", "{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }} {{ msgs | rejectattr('role', 'equalto', 'user') | map(attribute='role') | list }} {{ msgs | selectattr('tool_calls', 'defined') | list | length }} {{ msgs | selectattr('tool_calls', 'undefined') | list | length }} {{ msgs | selectattr('content') | list | length }}", {"msgs": MSGS}),
    ("filter/unique_sort", "{{ [3, 1, 2, 1] | unique | list }} {{ ['b', 'A', 'a', 'B'] | unique | list }} {{ [3, 1, 2] | sort }} {{ [3, 1, 2] | sort(reverse=true) }} {{ ['b', 'A', 'c'] | sort }} {{ ['b', 'A', 'c'] | sort(case_sensitive=true) }} {{ users | sort(attribute='age') | map(attribute='name') | join }}", {"users": [{"name": "x", "age": 3}, {"name": "y", "age": 1}]}),
    ("filter/reverse", "{{ [1, 2, 3] | reverse | list }} {{ 'abc' | reverse }}", {}),
    ("filter/sum_min_max", "{{ [1, 2, 3] | sum }} {{ [1.5, 2] | sum }} {{ users | sum(attribute='age') }} {{ [3, 1, 2] | min }} {{ [3, 1, 2] | max }} {{ ['b', 'A'] | max }} {{ users | max(attribute='age') }}", {"users": [{"name": "x", "age": 3}, {"name": "y", "age": 1}]}),
    ("filter/indent", "{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, first=true) }}|{{ 'a\\n\\nb' | indent(2, blank=true) }}|{{ 'x\\ny' | indent('> ') }}", {}),
    ("filter/center_wordcount", "[{{ 'ab' | center(7) }}] {{ 'hello big world' | wordcount }}", {}),
    ("filter/batch", "{{ [1, 2, 3, 4, 5] | batch(2) | list }} {{ [1, 2, 3] | batch(2, 'x') | list }}", {}),
    ("filter/dictsort", "{{ d | dictsort }} {{ d | dictsort(by='value') }} {{ d | dictsort(reverse=true) }}", {"d": {"b": 1, "a": 3, "C": 2}}),
    ("filter/escape_safe", "{{ '<a href=\"x\">&\\'</a>' | e }} {{ '<b>' | safe }}", {}),
    ("filter/format", "{{ '%s and %s' | format('a', 'b') }} {{ '%(x)s' | format(x=1) }}", {}),
    ("filter/attr", "{{ d | attr('x') }}", {"d": {"x": 5}}),
    ("filter/unknown", "{% if false %}{{ x | nosuchfilter }}{% endif %}ok", {}),
    ("filter/unknown_used", "{{ 'x' | nosuchfilter }}", {}),
    ("filter/unknown_test", "{% if false %}{{ x is nosuchtest }}{% endif %}ok", {}),
    # tojson
    ("json/default", "{{ v | tojson }}", {"v": {"b": [1, 2.5, None, True, "é\"\\\n"], "a": {}, "c": []}}),
    ("json/indent", "{{ v | tojson(indent=2) }}", {"v": {"b": [1, {"x": []}], "a": "s"}}),
    ("json/indent_str", "{{ v | tojson(indent='\\t') }}", {"v": [1, [2]]}),
    ("json/sort_keys", "{{ v | tojson(sort_keys=true) }}", {"v": {"b": 1, "a": {"d": 1, "c": 2}}}),
    ("json/separators", "{{ v | tojson(separators=(',', ':')) }}", {"v": {"a": [1, 2], "b": "x"}}),
    ("json/ensure_ascii", "{{ v | tojson(ensure_ascii=true) }} {{ v | tojson }}", {"v": "héllo 😀 \u2028"}),
    ("json/control_chars", "{{ v | tojson }}", {"v": "\u0001\u001f\t\b\f\u007f"}),
    ("json/scalars", "{{ 1 | tojson }} {{ 1.0 | tojson }} {{ 'a' | tojson }} {{ none | tojson }} {{ true | tojson }} {{ (1, 2) | tojson }} {{ {1: 'a', true: 'b'} | tojson }}", {}),
    ("json/undefined", "{{ nothing | tojson }}", {}),
    ("json/floats", "{{ [0.1, 1e-7, 1e22, 3.0, -2.5, 123456.789] | tojson }}", {}),
    # string methods
    ("str/strip", "[{{ '  a  '.strip() }}][{{ '  a  '.lstrip() }}][{{ '  a  '.rstrip() }}][{{ 'xyax'.strip('xy') }}][{{ '\\n\\t a \\n'.strip() }}]", {}),
    ("str/split", "{{ 'a,b,,c'.split(',') }} {{ ' a  b c '.split() }} {{ 'a,b,c'.split(',', 1) }} {{ ' a b c '.split(none, 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ 'abc'.split('x') }} {{ ''.split() }} {{ ''.split(',') }}", {}),
    ("str/split_index", "{{ 'a</think>b'.split('</think>')[-1] }} {{ 'x<think>y</think>z'.split('</think>')[0].split('<think>')[-1] }}", {}),
    ("str/affixes", "{{ 'hello'.startswith('he') }} {{ 'hello'.endswith('lo') }} {{ 'hello'.startswith(('x', 'h')) }} {{ 'hello'.endswith(('x', 'y')) }}", {}),
    ("str/case", "{{ 'hello world'.title() }} {{ \"they're\".title() }} {{ 'hELLO'.capitalize() }} {{ 'aBc'.swapcase() }} {{ 'abc'.upper() }} {{ 'ABC'.lower() }}", {}),
    ("str/find_count", "{{ 'hello'.find('l') }} {{ 'hello'.rfind('l') }} {{ 'hello'.find('z') }} {{ 'hello'.count('l') }} {{ 'héllo'.find('l') }} {{ 'hello'.index('e') }}", {}),
    ("str/index_missing", "{{ 'hello'.index('z') }}", {}),
    ("str/replace_join", "{{ 'a-b-c'.replace('-', '+') }} {{ 'a-b-c'.replace('-', '', 1) }} {{ ', '.join(['x', 'y']) }} {{ ''.join('abc') }}", {}),
    ("str/join_nonstr", "{{ ','.join([1, 2]) }}", {}),
    ("str/predicates", "{{ '123'.isdigit() }} {{ '12a'.isdigit() }} {{ 'abc'.isalpha() }} {{ 'a1'.isalnum() }} {{ '  '.isspace() }} {{ 'ABC'.isupper() }} {{ 'abc'.islower() }} {{ ''.isdigit() }} {{ 'Hello World'.istitle() }}", {}),
    ("str/format", "{{ '{} and {}'.format('a', 'b') }} {{ '{0}{1}{0}'.format('x', 'y') }} {{ '{name}!'.format(name='n') }} {{ '{{literal}}'.format() }}", {}),
    ("str/misc", "{{ 'ab'.center(6, '*') }} {{ 'ab'.ljust(4, '.') }} {{ 'ab'.rjust(4) }} {{ '42'.zfill(5) }} {{ 'a=b=c'.partition('=') }} {{ 'a=b=c'.rpartition('=') }} {{ 'prefix_x'.removeprefix('prefix_') }} {{ 'a\\nb\\r\\nc'.splitlines() }}", {}),
    # dict and list methods
    ("list/methods", "{{ [1, 2, 1].count(1) }} {{ [1, 2, 3].index(2) }}", {}),
    ("list/append_unsafe", "{% set l = [] %}{{ l.append(1) }}", {}),
    ("dict/update_unsafe", "{% set d = {} %}{{ d.update({'a': 1}) }}", {}),
    ("dict/items_order", "{% for k, v in d.items() %}{{ k }}{% endfor %}", {"d": {"z": 1, "y": 2, "x": 3}}),
    ("dict/literal", "{% set d = {'a': 1, 'b': 2, 'a': 3} %}{{ d }} {{ d | length }}", {}),
    # globals
    ("global/raise", "{{ raise_exception('boom') }}", {}),
    ("global/strftime", "{{ strftime_now('%Y-%m-%d %H:%M %B %d %A %j') }}", {}),
    ("global/dict", "{{ dict(a=1, b='x') }}", {}),
    ("global/call_non_callable", "{{ 'abc'() }}", {}),
    ("global/call_undefined", "{{ nofunc() }}", {}),
    ("global/range_too_big", "{{ range(200000) | length }}", {}),
    # undefined through filters and operators
    ("undef/filters", "[{{ x | upper }}][{{ x | trim }}][{{ x | join(',') }}][{{ x | list }}][{{ x | items | list }}][{{ x | string }}][{{ x | first }}][{{ x | default(1) }}][{{ x | length }}][{{ x | sort }}][{{ x | sum }}][{{ x | min }}][{{ x | center(4) }}][{{ x | e }}][{{ x | map('upper') | list }}][{{ x | selectattr('a') | list }}]", {}),
    ("undef/int", "{{ x | int }}", {}),
    ("undef/float", "{{ x | float }}", {}),
    ("undef/indent", "{{ x | indent }}", {}),
    ("undef/abs", "{{ x | abs }}", {}),
    ("undef/cond_concat", "{{ 'a' + ('b' if false) }}", {}),
    ("undef/nested_attr", "{{ d.y.z }}", {"d": {}}),
    ("undef/compare", "{{ x == none }} {{ x == x }} {{ x in [1] }} {{ 1 in x }} {{ x is none }}", {}),
    ("undef/lt", "{{ x < 1 }}", {}),
    ("undef/iterate_len", "{{ x | length }}{% for a in x %}a{% endfor %}", {}),
    # more expressions
    ("expr/misc", "{{ -1 ** 2 }} {{ not x is defined }} {{ [1, 2, 3][1:] | length }} {{ (msgs | last).content }} {{ msgs[0]['content'] is string }} {{ msgs[0].content | length > 1 }} {{ '%.1f' | format(3.14159) }}", {"msgs": MSGS}),
    ("expr/in_dict_numbers", "{{ 1 in {1.0: 'a'} }} {{ 1.0 in {1: 'a'} }} {{ true in {1: 'a'} }} {{ {1: 'a'}[1.0] }}", {}),
    ("expr/string_order", "{{ 'é' > 'z' }} {{ 'B' < 'a' }} {{ ['b', 'a', 'é', 'Z'] | sort }}", {}),
    ("expr/tag_chars_in_strings", "{{ '}}' }}{{ '{{' }}{{ '%}' }}{% if '%}' %}ok{% endif %}", {}),
    ("expr/dict_literal_in_var", "{{ {'a': {'b': 1}} }}{{ {'a': {'b': 1}}['a']['b'] }}", {}),
    ("expr/call_star", "{% macro m(a, b) %}{{ a }}{{ b }}{% endmacro %}{{ m(*[1, 2]) }}{{ m(**{'a': 3, 'b': 4}) }}", {}),
    ("expr/loop_reverse", "{% for m in msgs | reverse %}{{ m.role[0] }}{% endfor %}", {"msgs": MSGS}),
    ("expr/cycle_star", "{% for i in range(3) %}{{ loop.cycle(*['a', 'b']) }}{% endfor %}", {}),
    ("expr/filtered_loop_prev", "{% for i in range(6) if i is even %}{{ loop.previtem }}>{{ i }} {% endfor %}", {}),
    ("expr/namespace_list", "{% set ns = namespace(a=[]) %}{% for i in range(3) %}{% set ns.a = ns.a + [i] %}{% endfor %}{{ ns.a }}", {}),
    ("expr/multiline_tag", "{{\n  1 +\n  2\n}}{%\n  if true\n%}x{% endif %}", {}),
    ("expr/is_in_string", "{{ 'a' is in 'abc' }} {{ 'x' is in ['y'] }}", {}),
    ("expr/int_edge", "{{ 9223372036854775807 }} {{ '3.0' | int }} {{ 1.5 | int }} {{ -1.5 | int }}", {}),
    ("ws/block_end_minus_newlines", "{% if true %}a{% endif -%}\n\n   b", {}),
    ("ws/macro_body", "{%- macro m() -%}\n  x\n{%- endmacro -%}\n[{{ m() }}]", {}),
    ("ws/lstrip_comment_mid_line", "a {# c #}\n  {# d #}\nb", {}),
    ("ws/elif_minus", "{%- if false -%} a {%- elif true -%} b {%- else -%} c {%- endif -%}", {}),
    ("ws/raw_lstrip", "x\n  {% raw %}\n  r\n  {% endraw %}\ny", {}),
    ("ws/set_block_trim", "{% set x -%}\n  a\n{%- endset %}[{{ x }}]", {}),
    # syntax errors
    ("syntax/unclosed_if", "{% if true %}x", {}),
    ("syntax/unknown_tag", "{% frobnicate %}", {}),
    ("syntax/bad_expr", "{{ 1 + }}", {}),
    ("syntax/unclosed_var", "{{ 1 ", {}),
    ("syntax/unclosed_comment", "{# never closed", {}),
    ("syntax/unclosed_string", "{{ 'abc }}", {}),
    ("syntax/mismatched_paren", "{{ (1 ] }}", {}),
    ("syntax/endfor_without_for", "{% endfor %}", {}),
    ("syntax/break_outside_loop", "{% break %}", {}),
    ("syntax/include", "{% include 'x.html' %}", {}),
    ("syntax/chained_is", "{{ 1 is number is number }}", {}),
]


def render(env, template, context):
    try:
        return {"expected": env.from_string(template).render(**context)}
    except jinja2.exceptions.TemplateSyntaxError as e:
        return {"expected_error": f"{type(e).__name__}: {e.message}"}
    except Exception as e:  # noqa: BLE001 - any render failure is an expected error
        return {"expected_error": f"{type(e).__name__}: {e}"}


def main():
    env = make_env()
    out = []
    for name, template, context in CASES:
        case = {"name": name, "template": template, "context": context}
        case.update(render(env, template, context))
        out.append(case)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, "tests", "data", "text", "jinja_cases.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        doc = {"generator": f"scripts/jinja_reference.py with jinja2 {jinja2.__version__}",
               "cases": out}
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(out)} cases to {path}")


if __name__ == "__main__":
    main()
