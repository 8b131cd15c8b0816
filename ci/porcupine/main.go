// Command porcupine-check decides one history file with porcupine's
// checker (github.com/anishathalye/porcupine), so faultline's verdicts and
// times can be compared with porcupine's on the same files.
//
//	porcupine-check --format jepsen|kv [--no-partition] [--timeout SECS] FILE
//
// It reads the two layouts of porcupine's own test data (test_data/jepsen:
// jepsen.util logs of an etcd compare-and-set register; test_data/kv: one
// EDN map a line over string keys) the way porcupine's test suite reads them
// (porcupine_test.go, parseJepsenLog and parseKvLog): lines that match no
// pattern are ignored, and an operation that never returns is completed at
// the end of the history with an unknown (register) or empty (kv) output.
// The models are porcupine's test models restated: the register starts as
// nil and an unknown outcome fits any state; kv is per-key strings
// (get, put, append), partitioned by key unless --no-partition.
//
// It prints one line, "FILE: ok|illegal|unknown", and exits 0 (ok),
// 1 (illegal), 3 (unknown: the timeout ran out) or 2 (bad arguments or an
// unreadable file).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"hash/fnv"
	"os"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/anishathalye/porcupine"
)

func main() {
	format := flag.String("format", "", "jepsen (test_data/jepsen) or kv (test_data/kv)")
	noPartition := flag.Bool("no-partition", false, "kv: check the whole history as one map instead of key by key")
	timeout := flag.Float64("timeout", 0, "seconds before giving up (0: no limit)")
	flag.Parse()
	if flag.NArg() != 1 {
		fail("expected one history file, got %d arguments", flag.NArg())
	}
	path := flag.Arg(0)
	var model porcupine.Model
	var events []porcupine.Event
	var err error
	switch *format {
	case "jepsen":
		model = registerModel()
		events, err = readJepsen(path)
	case "kv":
		if *noPartition {
			model = kvMapModel()
		} else {
			model = kvKeyModel()
		}
		events, err = readKv(path)
	default:
		fail("--format: expected jepsen or kv, got %q", *format)
	}
	if err != nil {
		fail("%s: %v", path, err)
	}
	limit := time.Duration(*timeout * float64(time.Second))
	switch porcupine.CheckEventsTimeout(model, events, limit) {
	case porcupine.Ok:
		fmt.Printf("%s: ok\n", path)
	case porcupine.Illegal:
		fmt.Printf("%s: illegal\n", path)
		os.Exit(1)
	default:
		fmt.Printf("%s: unknown\n", path)
		os.Exit(3)
	}
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "porcupine-check: "+format+"\n", args...)
	os.Exit(2)
}

// history pairs calls with returns by process, as porcupine's tests do: a
// process has at most one operation outstanding.
type history struct {
	events  []porcupine.Event
	pending map[int]int // process -> id of its outstanding call
	next    int
}

func newHistory() *history { return &history{pending: map[int]int{}} }

func (h *history) call(process int, input interface{}) {
	h.events = append(h.events, porcupine.Event{ClientId: process, Kind: porcupine.CallEvent, Value: input, Id: h.next})
	h.pending[process] = h.next
	h.next++
}

// ret completes the process's outstanding call; a return without one is
// ignored (porcupine's tests would pair it with call 0).
func (h *history) ret(process int, output interface{}) {
	id, ok := h.pending[process]
	if !ok {
		return
	}
	delete(h.pending, process)
	h.events = append(h.events, porcupine.Event{ClientId: process, Kind: porcupine.ReturnEvent, Value: output, Id: id})
}

// finish completes every outstanding call at the end, in process order.
func (h *history) finish(output interface{}) []porcupine.Event {
	processes := make([]int, 0, len(h.pending))
	for p := range h.pending {
		processes = append(processes, p)
	}
	sort.Ints(processes)
	for _, p := range processes {
		h.ret(p, output)
	}
	return h.events
}

// eachLine calls f on every line of the file.
func eachLine(path string, f func(line string)) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	scanner := bufio.NewScanner(file)
	scanner.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for scanner.Scan() {
		f(scanner.Text())
	}
	return scanner.Err()
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s) // the patterns admit digits only
	return n
}

// The register: 0 read, 1 write, 2 cas.
type regInput struct {
	op       uint8
	from, to int // write: from is the value
}

type regOutput struct {
	ok      bool // cas applied
	exists  bool // read found a value
	value   int
	unknown bool // no answer (timed out, or never returned)
}

// nilValue stands for the register's empty state (Jepsen's nil).
const nilValue = -1000000

func registerModel() porcupine.Model {
	return porcupine.Model{
		Init: func() interface{} { return nilValue },
		Step: func(state, input, output interface{}) (bool, interface{}) {
			st := state.(int)
			in := input.(regInput)
			out := output.(regOutput)
			switch in.op {
			case 0:
				fits := out.unknown || (!out.exists && st == nilValue) || (out.exists && st == out.value)
				return fits, st
			case 1:
				return true, in.from
			default:
				applies := in.from == st
				fits := out.unknown || applies == out.ok
				if applies {
					return fits, in.to
				}
				return fits, st
			}
		},
	}
}

func readJepsen(path string) ([]porcupine.Event, error) {
	const head = `^INFO\s+jepsen\.util\s+-\s+(\d+)\s+`
	invokeRead := regexp.MustCompile(head + `:invoke\s+:read\s+nil$`)
	invokeWrite := regexp.MustCompile(head + `:invoke\s+:write\s+(\d+)$`)
	invokeCas := regexp.MustCompile(head + `:invoke\s+:cas\s+\[(\d+)\s+(\d+)\]$`)
	okRead := regexp.MustCompile(head + `:ok\s+:read\s+(nil|\d+)$`)
	okWrite := regexp.MustCompile(head + `:ok\s+:write\s+(\d+)$`)
	doneCas := regexp.MustCompile(head + `:(ok|fail)\s+:cas\s+\[(\d+)\s+(\d+)\]$`)
	timedOutRead := regexp.MustCompile(head + `:fail\s+:read\s+:timed-out$`)
	h := newHistory()
	err := eachLine(path, func(line string) {
		if m := invokeRead.FindStringSubmatch(line); m != nil {
			h.call(atoi(m[1]), regInput{op: 0})
		} else if m := invokeWrite.FindStringSubmatch(line); m != nil {
			h.call(atoi(m[1]), regInput{op: 1, from: atoi(m[2])})
		} else if m := invokeCas.FindStringSubmatch(line); m != nil {
			h.call(atoi(m[1]), regInput{op: 2, from: atoi(m[2]), to: atoi(m[3])})
		} else if m := okRead.FindStringSubmatch(line); m != nil {
			out := regOutput{}
			if m[2] != "nil" {
				out = regOutput{exists: true, value: atoi(m[2])}
			}
			h.ret(atoi(m[1]), out)
		} else if m := okWrite.FindStringSubmatch(line); m != nil {
			h.ret(atoi(m[1]), regOutput{})
		} else if m := doneCas.FindStringSubmatch(line); m != nil {
			h.ret(atoi(m[1]), regOutput{ok: m[2] == "ok"})
		} else if m := timedOutRead.FindStringSubmatch(line); m != nil {
			h.ret(atoi(m[1]), regOutput{unknown: true})
		}
	})
	return h.finish(regOutput{unknown: true}), err
}

// The kv store: 0 get, 1 put, 2 append.
type kvInput struct {
	op         uint8
	key, value string
}

type kvOutput struct{ value string }

func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func kvStep(st string, in kvInput, out kvOutput) (bool, string) {
	switch in.op {
	case 0:
		return out.value == st, st
	case 1:
		return true, in.value
	default:
		return true, st + in.value
	}
}

// kvKeyModel: one key's string, the history partitioned by key.
func kvKeyModel() porcupine.Model {
	return porcupine.Model{
		PartitionEvent: func(events []porcupine.Event) [][]porcupine.Event {
			byKey := map[string][]porcupine.Event{}
			keyOf := map[int]string{}
			for _, e := range events {
				if e.Kind == porcupine.CallEvent {
					keyOf[e.Id] = e.Value.(kvInput).key
				}
				k := keyOf[e.Id]
				byKey[k] = append(byKey[k], e)
			}
			keys := make([]string, 0, len(byKey))
			for k := range byKey {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			parts := make([][]porcupine.Event, 0, len(keys))
			for _, k := range keys {
				parts = append(parts, byKey[k])
			}
			return parts
		},
		Init: func() interface{} { return "" },
		Step: func(state, input, output interface{}) (bool, interface{}) {
			return kvStep(state.(string), input.(kvInput), output.(kvOutput))
		},
		Hash: func(state interface{}) uint64 { return hashString(state.(string)) },
	}
}

// kvMapModel: every key in one map, no partitioning (porcupine's slow
// reference case).
func kvMapModel() porcupine.Model {
	return porcupine.Model{
		Init: func() interface{} { return map[string]string{} },
		Step: func(state, input, output interface{}) (bool, interface{}) {
			st := state.(map[string]string)
			in := input.(kvInput)
			fits, value := kvStep(st[in.key], in, output.(kvOutput))
			if in.op == 0 {
				return fits, st
			}
			next := make(map[string]string, len(st)+1)
			for k, v := range st {
				next[k] = v
			}
			next[in.key] = value
			return fits, next
		},
		Equal: func(a, b interface{}) bool {
			x, y := a.(map[string]string), b.(map[string]string)
			if len(x) != len(y) {
				return false
			}
			for k, v := range x {
				if w, ok := y[k]; !ok || w != v {
					return false
				}
			}
			return true
		},
		Hash: func(state interface{}) uint64 {
			// Order-independent: XOR of each pair's hash.
			var h uint64
			for k, v := range state.(map[string]string) {
				h ^= hashString(k + "\x00" + v)
			}
			return h
		},
	}
}

func readKv(path string) ([]porcupine.Event, error) {
	const head = `\{:process (\d+), :type `
	invoke := regexp.MustCompile(head + `:invoke, :f :(get|put|append), :key "(.*)", :value (nil|"(.*)")\}`)
	ok := regexp.MustCompile(head + `:ok, :f :(get|put|append), :key ".*", :value (nil|"(.*)")\}`)
	ops := map[string]uint8{"get": 0, "put": 1, "append": 2}
	h := newHistory()
	err := eachLine(path, func(line string) {
		if m := invoke.FindStringSubmatch(line); m != nil {
			op := ops[m[2]]
			// porcupine's patterns: a get is invoked with nil, a put or
			// append with a string.
			if (op == 0) != (m[4] == "nil") {
				return
			}
			h.call(atoi(m[1]), kvInput{op: op, key: m[3], value: m[5]})
		} else if m := ok.FindStringSubmatch(line); m != nil {
			if m[3] == "nil" {
				return
			}
			out := kvOutput{}
			if m[2] == "get" {
				out.value = m[4]
			}
			h.ret(atoi(m[1]), out)
		}
	})
	return h.finish(kvOutput{}), err
}
