# The logic of every stand-in hook tool (juju-hook-contract.md section 2). `jujuc` runs this once
# per call with `jq -n -r` and evals what it prints: a POSIX sh script that records the call,
# writes the tool's effects and output, and exits with the tool's code.
#
# Variables from jujuc:
#   $tool                  the tool's name (basename of $0)
#   $cur                   id of the context now running ("" when none: work/context-id is absent)
#   $leader                contents of state/leader
#   $cfg $rel $cst $pw $ps $ust $ast $par $res   slurped JSON files (null when missing):
#     state/config.json, work/relations.json, work/charm-state.json, work/opened-ports.json,
#     state/opened-ports.json, state/unit-status.json, state/app-status.json,
#     action/params.json, action/results.json
#   $filemode              none | stdin | path | missing (the --file argument of relation-set/state-set)
#   $filepath $filedata    that argument, and the text read from it
#   $ARGS.positional       argv; $ENV the caller's environment
# Go conventions copied: gnuflag parsing, `ERROR <msg>` with exit 2 for usage errors (Init) and 1
# for run-time errors (Run), json.Marshal output (sorted keys, <>& escaped), cmd.Output's newline.

def usage($m): error({code: 2, msg: $m});
def runerr($m): error({code: 1, msg: $m});
def q: tojson;                                    # Go's %q, for the strings we meet
def qlist: "[" + (map(q) | join(" ")) + "]";      # Go's %q of a []string

def one($x): $x[0] // null;
def env($k): $ENV[$k] // "";

# --- output formats ------------------------------------------------------------------------------
def sortkeys: walk(if type == "object" then to_entries | sort_by(.key) | from_entries else . end);
def gojson: sortkeys | tojson | split("<") | join("\\u003c") | split(">") | join("\\u003e") | split("&") | join("\\u0026");

def yscalar:
  if type == "string" then
    if test("^[A-Za-z0-9_./][^\\x00-\\x1f]*$") and (test(": | #|:$|\\s$") | not)
       and (test("^(?i:y|n|yes|no|on|off|true|false|null|~)$") | not)
       and (test("^[-+]?[0-9._]+([eE][-+]?[0-9]+)?$") | not)
       and (test("^0[xo]") | not)
    then . else tojson end
  elif type == "null" then "null"
  else tojson end;
def yinline: if type == "object" then "{}" elif type == "array" then "[]" else yscalar end;
def ylines($ind):
  if type == "object" and length > 0 then
    to_entries | sort_by(.key) | map(
      (.key | yscalar) as $k
      | if ((.value | type) == "object" or (.value | type) == "array") and (.value | length) > 0
        then ["\($ind)\($k):"] + (.value | if type == "array" then ylines($ind) else ylines($ind + "  ") end)
        else ["\($ind)\($k): \(.value | yinline)"] end) | add
  elif type == "array" and length > 0 then
    map(if (type == "object" or type == "array") and length > 0
        then ylines($ind + "  ") | (.[0] |= ($ind + "- " + .[(($ind | length) + 2):]))
        else ["\($ind)- \(yinline)"] end) | add
  else [yinline] end;
def yamldoc: ylines("") | join("\n");

def nl: if . == "" or endswith("\n") then . else . + "\n" end;
def smart:
  if . == null then ""
  elif type == "string" then .
  elif type == "boolean" then (if . then "True" else "False" end)
  elif type == "array" and all(.[]; type == "string") then join("\n")
  else yamldoc end;
def render($fmt):
  if $fmt == "json" then gojson elif $fmt == "yaml" then (if . == null then "" else yamldoc end) else smart end | nl;

# --- gnuflag -------------------------------------------------------------------------------------
def S($k): {t: "s", k: $k};
def B($k): {t: "b", k: $k};
def FORMAT: {format: S("format"), o: S("output"), output: S("output")};

def pbool($v; $flag):
  if ($v | IN("1", "t", "T", "TRUE", "true", "True")) then true
  elif ($v | IN("0", "f", "F", "FALSE", "false", "False")) then false
  else usage("invalid value \($v | q) for option \($flag): strconv.ParseBool: parsing \($v | q): invalid syntax") end;

# argv | parse(spec) -> {o: {key: value}, as: {key: "--flag as written"}, args: [...]}
def parse($spec):
  . as $argv | length as $n
  | {i: 0, o: {}, as: {}, args: [], done: false}
  | until(.i >= $n;
      $argv[.i] as $a
      | if .done then .args += [$a] | .i += 1
        elif $a == "--" then .done = true | .i += 1
        elif ($a | startswith("-")) and $a != "-" then
          ($a | startswith("--")) as $long
          | ($a | if $long then .[2:] else .[1:] end) as $body
          | ($body | index("=")) as $eq
          | (if $eq != null then $body[:$eq] else $body end) as $name
          | ((if $long then "--" else "-" end) + $name) as $shown
          | ($spec[$name] // null) as $f
          | if $f == null or $name == "" or ((($name | length) == 1) == $long) then usage("flag provided but not defined: \($shown)")
            elif $f.t == "b" then .o[$f.k] = (if $eq != null then pbool($body[($eq + 1):]; $shown) else true end) | .i += 1
            elif $eq != null then .o[$f.k] = $body[($eq + 1):] | .as[$f.k] = $shown | .i += 1
            elif .i + 1 < $n then .o[$f.k] = $argv[.i + 1] | .as[$f.k] = $shown | .i += 2
            else usage("flag needs an argument: \($shown)") end
        else .args += [$a] | .i += 1 end)
  | if (.o.format // "smart" | IN("smart", "json", "yaml")) or ($spec.format.t // "") == "d" then .
    else usage("invalid value \(.o.format | q) for option \(.as.format): unknown format \(.o.format | q)") end
  | del(.i, .done);

def noargs: if (.args | length) > 0 then usage("unrecognized args: \(.args | qlist)") else . end;
def out($p; $v): {out: ($v | render($p.o.format // "smart"))} + (if $p.o.output then {outfile: $p.o.output} else {} end);
def out($v): . as $p | out($p; $v);

# --- the unit ------------------------------------------------------------------------------------
def unit: env("JUJU_UNIT_NAME");
def localapp: unit | sub("/[0-9]+$"; "");
def isleader: $leader | test("^\\s*true\\s*$");
def inaction: env("JUJU_ACTION_NAME") != "";
def needaction: if inaction then . else runerr("not running an action") end;
def validunit: test("^[a-z][a-z0-9]*(-[a-z0-9]*[a-z][a-z0-9]*)*/[0-9]+$");
def validapp: test("^[a-z][a-z0-9]*(-[a-z0-9]*[a-z][a-z0-9]*)*$");
def rels: $rel[0] // {};

# The relation key ("image:1") named by a -r value, or the hook's relation, or null.
def relkey($p):
  if $p.o.relation != null then
    $p.o.relation as $v | $p.as.relation as $flag
    | ($v | split(":") | last) as $n
    | if ($n | test("^[0-9]+$") | not) then usage("invalid value \($v | q) for option \($flag): invalid relation id")
      else ($n | tonumber) as $id
      | ([rels | to_entries[] | select(.value.id == $id) | .key] | first // null) as $k
      | if $k == null then usage("invalid value \($v | q) for option \($flag): relation not found") else $k end end
  else
    env("JUJU_RELATION_ID") as $h
    | if $h == "" then null
      else ([rels | to_entries[] | select(.key == $h or ((.value.id | tostring) == ($h | split(":") | last))) | .key] | first // null) end
  end;
def needrel($p): relkey($p) as $k | if $k == null then usage("no relation id specified") else $k end;

def writerel($r): {writes: [{path: "work/relations.json", content: ($r | tojson)}]};

# key=value arguments as juju/utils keyvalues.Parse(args, allowEmptyValues=true)
def keyvalues:
  reduce .[] as $kv ({};
    ($kv | index("=")) as $eq
    | if $eq == null then usage("expected \"key=value\", got \($kv | q)") else . end
    | ($kv[:$eq] | gsub("^\\s+|\\s+$"; "")) as $k | ($kv[($eq + 1):] | gsub("^\\s+|\\s+$"; "")) as $v
    | if $k == "" then usage("expected \"key=value\", got \("\($k)=\($v)" | q)")
      elif has($k) then usage("key \($k | q) specified more than once")
      else .[$k] = $v end);

# The --file map (YAML map of strings; JSON is YAML). A small YAML subset: `key: value` lines.
def settingsfile:
  if $filemode == "none" then {}
  elif $filemode == "missing" then runerr("open \($filepath): no such file or directory")
  else
    ($filedata | gsub("^\\s+|\\s+$"; "")) as $t
    | if $t == "" then {}
      else
        # JSON (what ops sends) is YAML; no try/catch here: jq 1.6's catch also sees later errors.
        (if ($t | test("^[\\[{\"]")) then $t | fromjson
         else $t | split("\n") | map(select(test("^\\s*(#.*)?$") | not))
           | map(capture("^(?<k>[^:#]+?)\\s*:(\\s+(?<v>.*))?$") // runerr("yaml: line 1: could not find expected ':'")
                 | {key: (.k | gsub("^[\"']|[\"']$"; "")),
                    value: ((.v // "") | if test("^\".*\"$") then fromjson elif test("^'.*'$") then .[1:-1] | gsub("''"; "'") elif IN("", "~", "null") then null else . end)})
           | from_entries end) as $m
        | if ($m | type) != "object" then runerr("yaml: unmarshal errors:\n  line 1: cannot unmarshal !!\(if ($m | type) == "array" then "seq" else "str" end) into map[string]string")
          else $m | with_entries(
            if (.value | type) == "object" or (.value | type) == "array" then runerr("yaml: unmarshal errors:\n  cannot unmarshal !!\(if (.value | type) == "object" then "map" else "seq" end) into string")
            elif .value == null then .value = ""
            else .value |= tostring end) end
      end
  end;

# --- the tools -----------------------------------------------------------------------------------
def config_get:
  parse(FORMAT + {a: B("all"), all: B("all")}) as $p
  | if ($p.args | length) > 1 then usage("unrecognized args: \($p.args[1:] | qlist)") else . end
  | ($p.args[0] // null) as $key
  | if $key != null and $p.o.all then usage("cannot use argument --all together with key \($key | q)") else . end
  | ($cfg[0] // {}) as $c
  | out($p; if $key == null then $c elif ($c | has($key)) then $c[$key] else null end);

def juju_log:
  parse({debug: B("debug"), l: S("level"), "log-level": S("level"), format: {t: "d", k: "fmtflag"}}) as $p
  | if ($p.args | length) == 0 then usage("no message specified") else . end
  | (($p.o.level // "INFO") | ascii_upcase) as $lv
  | (if $p.o.debug then "DEBUG" elif $lv == "WARN" then "WARNING"
     elif ($lv | IN("TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")) then $lv else null end) as $level
  | (env("JUJU_RELATION_ID") as $r | if $r != "" and (rels | has($r)) then {relation: $r} else {} end) as $relf
  | {appends: (
      (if $level == null then [{path: "juju-log.jsonl", line: ({level: "WARNING", message: "Specified log level of \($p.o.level | q) is not valid", context: env("JUJU_CONTEXT_ID")} | tojson)}] else [] end)
      + [{path: "juju-log.jsonl", line: ({level: ($level // "INFO"), message: ($p.args | join(" ")), context: env("JUJU_CONTEXT_ID")} + $relf | tojson)}]),
     errout: (if $p.o.fmtflag then "--format flag deprecated for command \"juju-log\"" else "" end)};

def is_leader: parse(FORMAT) | noargs | out(isleader);

def status_set:
  parse({application: B("application")}) as $p
  | if ($p.args | length) < 1 then usage("invalid args, require <status> [message]") else . end
  | $p.args[0] as $s
  | if ($s | IN("maintenance", "blocked", "waiting", "active") | not) then usage("invalid status \($s | q), expected one of [maintenance blocked waiting active]") else . end
  | if ($p.args | length) > 2 then usage("unrecognized args: \($p.args[2:] | qlist)") else . end
  | ($p.o.application // false) as $app
  | if $app and (isleader | not) then runerr("this unit is not the leader") else . end
  | {status: $s, message: ($p.args[1] // "")} as $st
  | {writes: [{path: (if $app then "state/app-status.json" else "state/unit-status.json" end), content: ($st | tojson)}],
     appends: [{path: "status-history.jsonl", line: ({application: $app} + $st + {context: env("JUJU_CONTEXT_ID")} | tojson)}]};

def status_get:
  parse(FORMAT + {"include-data": B("data"), application: B("application")}) | noargs | . as $p
  | def details($s): {status: ($s.status // "unknown")} + (if $p.o.data then {message: ($s.message // ""), "status-data": ($s.data // {})} else {} end);
    if $p.o.application then
      if isleader | not then runerr("finding application status: this unit is not the leader") else . end
      | if ($p.o.data | not) and ($p.o.format // "smart") == "smart" then out(($ast[0] // {}).status // "unknown")
        else out({"application-status": (details($ast[0] // {}) + {units: {(unit): details($ust[0] // {})}})}) end
    elif ($p.o.data | not) and ($p.o.format // "smart") == "smart" then out(($ust[0] // {}).status // "unknown")
    else out(details($ust[0] // {})) end;

def action_get:
  parse(FORMAT) as $p
  | if ($p.args | length) > 1 then usage("unrecognized args: \($p.args[1:] | qlist)") else . end
  | needaction
  | ($par[0] // {}) as $params
  | out($p; if ($p.args | length) == 0 then $params
            else ($p.args[0] | split(".")) as $ks
            | if ($params | getpath($ks[:-1]) | type) == "object" and ($params | getpath($ks[:-1]) | has($ks[-1])) then $params | getpath($ks) else null end end);

def setdeep($ks; $v):
  if ($ks | length) == 1 then .[$ks[0]] = $v
  else .[$ks[0]] = ((.[$ks[0]] | if type == "object" then . else {} end) | setdeep($ks[1:]; $v)) end;

def action_set:
  parse({}) as $p
  | [$p.args[] as $a
     | ($a | index("=")) as $eq
     | if $eq == null then usage("argument \($a | q) must be of the form key...=value") else . end
     | ($a[:$eq] | split(".")) as $ks
     | ($ks[] | if test("^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$") | not then usage("key \(. | q) must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods")
               elif IN("stdout", "stdout-encoding", "stderr", "stderr-encoding") then usage("cannot set reserved action key \(. | q)")
               else empty end),
     {keys: $ks, value: $a[($eq + 1):]}] as $sets
  | needaction
  | {writes: [{path: "action/results.json", content: (reduce $sets[] as $s ($res[0] // {}; setdeep($s.keys; $s.value)) | tojson)}]};

def action_log:
  parse({}) as $p
  | if ($p.args | length) == 0 then usage("no message specified") else . end
  | needaction
  | {appends: [{path: "action/logs.jsonl", line: ({message: ($p.args | join(" ")), context: env("JUJU_CONTEXT_ID")} | tojson)}]};

def action_fail:
  parse({}) as $p
  | if ($p.args | length) > 1 then usage("unrecognized args: \($p.args[1:] | qlist)") else . end
  | needaction
  | {writes: [{path: "action/failed", content: ($p.args[0] // "action failed without reason given, check action for errors")}]};

def relation_ids:
  parse(FORMAT) as $p
  | (if ($p.args | length) > 0 then $p.args[0] else env("JUJU_RELATION") end) as $ep
  | if $ep == "" then usage("no endpoint name specified") else . end
  | if ($p.args | length) > 1 then usage("unrecognized args: \($p.args[1:] | qlist)") else . end
  | out($p; [rels | to_entries[] | select(.value.endpoint == $ep and (.value.broken // false | not)) | .key] | sort);

def relation_list:
  parse(FORMAT + {r: S("relation"), relation: S("relation"), app: B("app")}) as $p
  | needrel($p) as $k
  | ($p | noargs)
  | out($p; (rels | .[$k]) as $r | if $p.o.app then $r.app else ($r.units // [] | sort) end);

def relation_get:
  parse(FORMAT + {r: S("relation"), relation: S("relation"), app: B("app")}) as $p
  | needrel($p) as $k
  | ($p.args[0] // "" | if . == "-" then "" else . end) as $key
  | ($p.args[1:]) as $rest
  | (if ($rest | length) > 0 then
       $rest[0] as $who
       | if $p.o.app then
           if ($who | validapp) then {app: true, name: $who}
           elif ($who | validunit) then {app: true, name: ($who | sub("/[0-9]+$"; ""))}
           else {app: true, name: $who} end
         elif ($who | validunit) then {app: false, name: $who}
         elif ($who | validapp) then usage("expected unit name, got application name \($who | q)")
         else usage("invalid unit name \($who | q)") end
     elif $p.o.app then
       (env("JUJU_REMOTE_APP")) as $ra | if $ra == "" then usage("no unit or application specified") else {app: true, name: $ra} end
     elif env("JUJU_REMOTE_UNIT") != "" then {app: false, name: env("JUJU_REMOTE_UNIT")}
     elif env("JUJU_REMOTE_APP") != "" then {app: true, name: env("JUJU_REMOTE_APP")}
     else usage("no unit or application specified") end) as $t
  | if ($rest | length) > 1 then usage("unrecognized args: \($rest[1:] | qlist)") else . end
  | (rels | .[$k]) as $r
  | (if $t.app then
       if $t.name == localapp then (if isleader then $r["local-app"] // {} else runerr("permission denied") end)
       elif $t.name == $r.app then $r["remote-app"] // {}
       else runerr("permission denied") end
     elif $t.name == unit then $r["local-unit"] // {}
     elif ($r["remote-units"] // {} | has($t.name)) then $r["remote-units"][$t.name]
     else runerr("cannot read settings for unit \($t.name | q) in relation \($k | q): settings not found") end) as $data
  | out($p; if $key == "" then $data elif ($data | has($key)) then $data[$key] else null end);

def relation_set:
  parse({r: S("relation"), relation: S("relation"), app: B("app"), file: S("file"), format: {t: "d", k: "fmtflag"}}) as $p
  | needrel($p) as $k
  | ($p.args | keyvalues) as $over
  | (settingsfile + $over) as $settings
  | if $p.o.app and (isleader | not) then runerr("cannot write relation settings") else . end
  | (if $p.o.app then "local-app" else "local-unit" end) as $bag
  | writerel(rels | .[$k][$bag] = reduce ($settings | to_entries[]) as $e (.[$k][$bag] // {};
        if $e.value == "" then del(.[$e.key]) else .[$e.key] = $e.value end))
    + {errout: (if $p.o.fmtflag then "--format flag deprecated for command \"relation-set\"" else "" end)};

def application_version_set:
  parse({}) as $p
  | if ($p.args | length) < 1 then usage("no version specified") else . end
  | if ($p.args | length) > 1 then usage("unrecognized args: \($p.args[1:] | qlist)") else . end
  | {writes: [{path: "state/workload-version", content: $p.args[0]}]};

def state_get:
  parse(FORMAT + {strict: B("strict")}) as $p
  | if ($p.args | length) > 1 then usage("unrecognized args: \($p.args[1:] | qlist)") else . end
  | ($p.args[0] // "" | if . == "-" then "" else . end) as $key
  | ($cst[0] // {}) as $s
  | if $key == "" then out($p; $s)
    elif ($s | has($key)) then out($p; $s[$key])
    elif $p.o.strict then runerr("key \($key | q) not found")
    else {} end;

def state_set:
  parse({file: S("file")}) as $p
  | ($p.args | keyvalues) as $over
  | (settingsfile + $over) as $kv
  | ([$kv | to_entries[] | select((.key | utf8bytelength) > 256)] | first // null) as $bigkey
  | ([$kv | to_entries[] | select((.value | utf8bytelength) > 65536)] | first // null) as $bigval
  | if $bigkey != null then runerr("key too large: \($bigkey.key | utf8bytelength) bytes > 256")
    elif $bigval != null then runerr("value for key \($bigval.key | q) too large: \($bigval.value | utf8bytelength) bytes > 65536")
    else {writes: [{path: "work/charm-state.json", content: (($cst[0] // {}) + $kv | tojson)}]} end;

def state_delete:
  parse({}) as $p
  | if ($p.args | length) < 1 then usage("specify key") else . end
  | if ($p.args | length) > 1 then usage("unrecognized args: \($p.args[1:] | qlist)") else . end
  | {writes: [{path: "work/charm-state.json", content: (($cst[0] // {}) | del(.[$p.args[0]]) | tojson)}]};

def portspec:
  . as $s
  | if ascii_downcase == "icmp" then "icmp"
    else (capture("^(?<from>[0-9]+)(-(?<to>[0-9]+))?(/(?<proto>[A-Za-z]+))?$") // usage("invalid port range \($s | q)")) as $m
    | ($m.from | tonumber) as $f | (($m.to // $m.from) | tonumber) as $t | (($m.proto // "tcp") | ascii_downcase) as $pr
    | if ($pr | IN("tcp", "udp") | not) then usage("invalid protocol \($pr | q), expected \"tcp\", \"udp\", or \"icmp\"")
      elif $f < 1 or $t > 65535 or $f > $t then usage("port range bounds must be between 1 and 65535, got \($s | q)")
      elif $f == $t then "\($f)/\($pr)" else "\($f)-\($t)/\($pr)" end end;

def open_close($open):
  parse({endpoints: S("endpoints"), format: {t: "d", k: "fmtflag"}}) as $p
  | if ($p.args | length) < 1 then usage("no port or range specified") else . end
  | if ($p.args | length) > 1 then usage("unrecognized args: \($p.args[1:] | qlist)") else . end
  | ($p.args[0] | portspec) as $spec
  | ($p.o.endpoints // "" | split(",") | map(select(. != ""))) as $eps
  | ($pw[0] // {}) as $ports
  | {writes: [{path: "work/opened-ports.json", content: (
      if $open then $ports | .[$spec] = ((.[$spec] // []) + (if $eps == [] then ["*"] else $eps end) | unique)
      elif $eps == [] then $ports | del(.[$spec])
      else $ports | .[$spec] = ((.[$spec] // []) - $eps) | if .[$spec] == [] then del(.[$spec]) else . end end
      | tojson)}]};

def opened_ports:
  parse(FORMAT + {endpoints: B("endpoints")}) | noargs | . as $p
  | out([($ps[0] // {}) | to_entries[] | if $p.o.endpoints then "\(.key) (\(.value | join(",")))" else .key end] | sort);

# --- main: record, check the context, run, and print the sh script jujuc evals -------------------
def shline: @sh;
def main(run):
$ARGS.positional as $argv
| {tool: $tool, argv: $argv, stdin: (if $filemode == "stdin" then $filedata else null end), context: ($ENV.JUJU_CONTEXT_ID // null)} as $call
| ({out: "", errout: "", code: 0, writes: [], appends: []} + (
    try (
      if $cur == "" then runerr("bad request: no hook context is running (JUJU_CONTEXT_ID \(env("JUJU_CONTEXT_ID") | q))")
      elif env("JUJU_CONTEXT_ID") != $cur
      then runerr("bad request: expected context id \($cur | q), got \(env("JUJU_CONTEXT_ID") | q)")
      else $argv | run end)
    catch (if type == "object" and .code != null then {code: .code, errout: "ERROR \(.msg)\n", writes: [], appends: []}
           else {code: 1, errout: "ERROR stand-in hook tool failed: \(tostring)\n", writes: [], appends: []} end))) as $r
| [ "printf '%s\\n' \($call | tojson | shline) >> \"$D\"/calls.jsonl",
    ($r.appends[] | "printf '%s\\n' \(.line | shline) >> \"$D\"/\(.path | shline)"),
    ($r.writes[] | "printf '%s' \(.content | shline) > \"$D\"/\(.path | shline).$$ && mv -f \"$D\"/\(.path | shline).$$ \"$D\"/\(.path | shline)"),
    (if $r.out != "" then "printf '%s' \($r.out | shline)" + (if $r.outfile then " > \($r.outfile | shline)" else "" end) else empty end),
    (if $r.errout != "" then "printf '%s' \($r.errout | shline) >&2" else empty end),
    "exit \($r.code)" ]
| join("\n");
