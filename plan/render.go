package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteText renders the plan for people: one line per action with its symbol (+ ~ -),
// the object and what changes, then the commands it stands for, then the summary line.
func WriteText(w io.Writer, p Plan) error {
	var b strings.Builder
	if !p.Empty() {
		fmt.Fprintf(&b, "Lab %s: %d action(s), in order:\n\n", p.Lab, len(p.Actions))
	}
	for _, a := range p.Actions {
		b.WriteString(a.Heading())
		b.WriteByte('\n')
		for _, c := range a.Commands() {
			b.WriteString("      ")
			b.WriteString(CommandLine(c))
			b.WriteByte('\n')
		}
		if input := strings.TrimSuffix(a.Input(), "\n"); input != "" {
			// Only the lines shown are split off: a large lab's hosts files are long.
			total := strings.Count(input, "\n") + 1
			shown := total
			if total > maxInputLines+1 {
				shown = maxInputLines
			}
			for _, line := range strings.SplitN(input, "\n", shown+1)[:shown] {
				b.WriteString("      | " + line + "\n")
			}
			if shown < total {
				fmt.Fprintf(&b, "      | ... (%d more lines; -o sh shows them all)\n", total-shown)
			}
		}
	}
	if !p.Empty() {
		b.WriteByte('\n')
	}
	b.WriteString(p.SummaryLine())
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// maxInputLines is how much of a file a text plan shows.
const maxInputLines = 12

// Heading is the action's line in a text plan: "  + netns testns1", with the change and
// the reason where they say more than the symbol does.
func (a Action) Heading() string {
	s := "  " + a.Summary()
	if !a.Reason.Obvious() {
		s += "  # " + a.Reason.String()
	}
	return s
}

// Summary is the action in one phrase: symbol, object and change, as in "~ sysctl host:
// net.ipv4.ip_forward (0 -> 1)".
func (a Action) Summary() string {
	s := a.Kind.Symbol() + " " + a.Object()
	if c := a.Change(); c != "" {
		s += " (" + c + ")"
	}
	return s
}

// JSONFormatVersion is the version of the JSON plan format; it changes only when a
// field is removed or changes meaning.
const JSONFormatVersion = "1"

// JSONPlan is the JSON form of a Plan, as `netlab plan -o json` prints it. Its fields
// are the documented, stable format.
type JSONPlan struct {
	FormatVersion string       `json:"format_version"`
	Lab           string       `json:"lab"`
	Actions       []JSONAction `json:"actions"`
	Summary       JSONSummary  `json:"summary"`
	// Warnings are Plan.Warnings.
	Warnings []string `json:"warnings,omitempty"`
}

// JSONAction is one action of a JSONPlan.
type JSONAction struct {
	Index  int        `json:"index"`
	Action string     `json:"action"`
	Type   ObjectType `json:"type"`
	// Namespace is the namespace of the object (the host for the lab's shared file).
	Namespace NS `json:"namespace"`
	// Object names the object in the topology's notation, without its type: "host:m1",
	// "10.0.0.1/24 on host:m1", "/etc/netns/client/hosts".
	Object string `json:"object"`
	// Key is the object's identity by fields, one shape per type: {"ns", "name"} for a
	// link or a sysctl, {"ns", "link", "prefix"} for an address, {"ns", "to",
	// "metric"} for a route, {"ns", "source", "out"} for a NAT rule, {"ns", "name",
	// "path"} for a file, {"ns"} for a namespace or its entry.
	Key    any    `json:"key"`
	Change string `json:"change,omitempty"`
	// Before and After are the object's values, for the types that have one: a Link, a
	// Route ({"via", "dev"}), a sysctl's value, a file's Digest, an entry's source file.
	Before    any        `json:"before,omitempty"`
	After     any        `json:"after,omitempty"`
	Reason    string     `json:"reason"`
	Commands  [][]string `json:"commands"`
	Input     string     `json:"input,omitempty"`
	DependsOn []int      `json:"depends_on"`
}

// JSONSummary counts a plan's actions by kind.
type JSONSummary struct {
	Add    int `json:"add"`
	Change int `json:"change"`
	Remove int `json:"remove"`
	// Adopt counts the objects adopted (apply --adopt); absent when none.
	Adopt int `json:"adopt,omitempty"`
}

// ToJSON returns the JSON form of the plan.
func ToJSON(p Plan) JSONPlan {
	add, change, remove, adopt := p.Counts()
	jp := JSONPlan{FormatVersion: JSONFormatVersion, Lab: p.Lab, Actions: []JSONAction{},
		Summary: JSONSummary{Add: add, Change: change, Remove: remove, Adopt: adopt}, Warnings: p.Warnings}
	for i, a := range p.Actions {
		deps := a.DependsOn
		if deps == nil {
			deps = []int{}
		}
		before, after := a.Target.jsonValues()
		jp.Actions = append(jp.Actions, JSONAction{
			Index: i, Action: a.Kind.String(), Type: a.Type(), Namespace: a.Namespaces()[0],
			Object: a.Target.name(), Key: a.Target.jsonKey(), Change: a.Change(),
			Before: before, After: after, Reason: a.Reason.String(),
			Commands: a.Commands(), Input: a.Input(), DependsOn: deps,
		})
	}
	return jp
}

// WriteJSON renders the plan as indented JSON (see JSONPlan).
func WriteJSON(w io.Writer, p Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(ToJSON(p))
}

// hereDocEnd ends the here-documents of a shell rendering; no file netlab writes has it
// as a line.
const hereDocEnd = "NETLAB_EOF"

// WriteShell renders the plan as a standalone POSIX shell script of the commands the
// actions stand for, stopping at the first failure. It carries netlab's marks (link
// aliases, rule comments) but needs no netlab to run.
func WriteShell(w io.Writer, p Plan) error {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	fmt.Fprintf(&b, "# Made by `netlab plan -o sh` for lab %s: the plan's commands, in order.\n", p.Lab)
	b.WriteString("# Needs iproute2 (and sysctl, iptables where used) and root; not netlab.\n")
	b.WriteString("set -e\n")
	for _, a := range p.Actions {
		b.WriteString("\n#" + strings.TrimPrefix(a.Heading(), " ") + "\n")
		for _, c := range a.Commands() {
			b.WriteString(CommandLine(c))
			if in := a.Input(); in != "" {
				// A quoted here-document: the content goes in as it is, unexpanded.
				b.WriteString(" >/dev/null <<'" + hereDocEnd + "'\n" + in + hereDocEnd)
			}
			b.WriteByte('\n')
		}
	}
	fmt.Fprintf(&b, "\n# %s\n", p.SummaryLine())
	_, err := io.WriteString(w, b.String())
	return err
}
