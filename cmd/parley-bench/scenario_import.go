package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	_ "github.com/mattn/go-sqlite3" // registers "sqlite3" for the read-only check
)

var (
	importConvs    = flag.Int("import-convs", 10_000, "import: conversations in the generated LeanCloud export")
	importMessages = flag.Int("import-messages", 1_000_000, "import: history messages in the generated LeanCloud export, spread over the conversations")
)

func init() {
	register(&Scenario{
		Name: "import",
		Help: "generates a LeanCloud export (-import-convs conversations, default 10,000, with -import-messages history messages, default 1,000,000) " +
			"and times `parley import leancloud` on it, then a re-import that must add nothing",
		Concurrency: 1,
		NoBaseline:  true, // one batch job: no ratio to a flat-out ceiling
		Run:         runImport,
	})
}

// The generated export: a fixed seed, clients from a pool, messages over the
// 150 days before a fixed end, so that every run imports the same bytes.
const (
	importSeed1, importSeed2 = 20261101, 3
	importClientPool         = 20_000
	importSpanDays           = 150
)

var importEnd = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC).UnixMilli()

// importFiles are the paths the importer is given.
type importFiles struct {
	Conversations string // _Conversation.0.jsonl
	MemberInfos   string // _ConversationMemberInfo.0.jsonl
	Messages      string // messages/, one <convId>.0.json per conversation
	Bytes         int64  // all of them together
}

// importRun is what one run of the importer took.
type importRun struct {
	Wall, CPU time.Duration
	MaxRSSKiB int64
	// Others is the CPU time other processes (neither the importer nor
	// this tool) took meanwhile, -1 when unknown: noise.
	Others time.Duration
}

func runImport(env *Env) error {
	ctx, rep := env.Ctx, env.Report
	nc, nm := *importConvs, *importMessages
	if nc < 1 || nm < 0 {
		return errors.New("import needs at least one conversation and no negative message count")
	}
	if !env.Own() {
		return errors.New("import runs the parley binary itself: run it without -url")
	}
	rep.Param("conversations", nc)
	rep.Param("messages", nm)
	rep.Param("clients", importClientPool)
	rep.Param("server", "none: the parley binary runs `import leancloud` twice")
	rep.Param("export", "LeanCloud: _Conversation and _ConversationMemberInfo JSON lines, one REST history array per conversation")
	dir, err := env.TempDir()
	if err != nil {
		return err
	}
	progress("import: generating a LeanCloud export of %d conversations and %d messages in %s", nc, nm, dir)
	start := time.Now()
	files, err := generateLeanCloudExport(dir, nc, nm)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	genTime := time.Since(start)
	progress("import: generated %.0f MiB in %s", float64(files.Bytes)/(1<<20), genTime.Round(time.Millisecond))
	bin, err := env.ParleyBin()
	if err != nil {
		return err
	}
	db := filepath.Join(dir, "import.db")
	args := []string{"import", "leancloud", "--db", db,
		"--conversations", files.Conversations, "--member-infos", files.MemberInfos, "--messages", files.Messages}

	progress("import: %s %s", bin, strings.Join(args, " "))
	first, err := runImporter(ctx, bin, args, filepath.Join(dir, "import.log"))
	if err != nil {
		return err
	}
	progress("import: imported in %s (%.0f msgs/s)", first.Wall.Round(time.Millisecond), float64(nm)/first.Wall.Seconds())
	if err := checkImported(db, nc, nm, "import"); err != nil {
		return err
	}
	dbBytes := fileSizes(db, db+"-wal")

	progress("import: the same import again (must add nothing)")
	again, err := runImporter(ctx, bin, args, filepath.Join(dir, "reimport.log"))
	if err != nil {
		return fmt.Errorf("re-import: %w", err)
	}
	progress("import: re-imported in %s", again.Wall.Round(time.Millisecond))
	if err := checkImported(db, nc, nm, "re-import"); err != nil {
		return err
	}

	rep.Metric("gen_seconds", "generating the export (not measured)", genTime.Seconds(), "s")
	rep.Metric("export_mib", "export files", float64(files.Bytes)/(1<<20), "MiB")
	rep.Metric("messages", "messages imported", float64(nm), "")
	rep.Metric("conversations", "conversations imported", float64(nc), "")
	rep.Metric("wall_seconds", "import wall time", first.Wall.Seconds(), "s")
	rep.Metric("ops_per_sec", "messages per second (wall)", float64(nm)/first.Wall.Seconds(), "msgs/s")
	rep.Metric("cpu_seconds", "importer CPU time (user+system)", first.CPU.Seconds(), "s")
	if nm > 0 {
		rep.Metric("cpu_us_per_msg", "importer CPU per message", float64(first.CPU.Microseconds())/float64(nm), "µs")
	}
	rep.Metric("peak_rss_mib", "importer peak RSS", float64(first.MaxRSSKiB)/1024, "MiB")
	rep.Metric("db_mib", "database file", float64(dbBytes)/(1<<20), "MiB")
	rep.Metric("reimport_wall_seconds", "re-import wall time (adds nothing)", again.Wall.Seconds(), "s")
	rep.Metric("reimport_cpu_seconds", "re-import CPU time", again.CPU.Seconds(), "s")
	rep.Metric("reimport_peak_rss_mib", "re-import peak RSS", float64(again.MaxRSSKiB)/1024, "MiB")
	for _, r := range []struct {
		what string
		run  importRun
	}{{"import", first}, {"re-import", again}} {
		if r.run.Others < 0 {
			continue
		}
		pct := 100 * r.run.Others.Seconds() / r.run.Wall.Seconds()
		if r.what == "import" {
			rep.Metric("others_cpu_pct", "other processes' CPU during the import (noise)", pct, "% of a core")
		}
		if pct > 20 {
			rep.Note("other processes used %.0f%% of a core during the %s: the figures are disturbed", pct, r.what)
		}
	}
	rep.Note("import: %s", importSummary(filepath.Join(dir, "import.log")))
	rep.Note("re-import: %s", importSummary(filepath.Join(dir, "reimport.log")))
	return nil
}

// runImporter runs bin with args to the end, its stdout and stderr into
// logPath (not a terminal: the importer prints plain progress lines), and
// measures its wall time, CPU time and peak resident set.
func runImporter(ctx context.Context, bin string, args []string, logPath string) (importRun, error) {
	var r importRun
	logf, err := os.Create(logPath)
	if err != nil {
		return r, err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so that a Ctrl-C reaches the tool, which then
	// interrupts the importer; Pdeathsig kills it should the tool die.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	m0, mok := machineBusy()
	self0 := selfCPU()
	start := time.Now()
	err = cmd.Run()
	r.Wall = time.Since(start)
	if ps := cmd.ProcessState; ps != nil {
		r.CPU = ps.UserTime() + ps.SystemTime()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			r.MaxRSSKiB = ru.Maxrss // KiB on Linux
		}
	}
	r.Others = -1
	if m1, ok := machineBusy(); ok && mok {
		r.Others = max(m1-m0-r.CPU-(selfCPU()-self0), 0)
	}
	if err != nil {
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		return r, fmt.Errorf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args[:2], " "), err, logTail(logPath, 20))
	}
	return r, nil
}

// checkImported opens the database read-only and compares its row counts
// with the export's.
func checkImported(path string, convs, messages int, what string) error {
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return err
	}
	defer db.Close()
	for _, c := range []struct {
		table string
		want  int
	}{{"conversations", convs}, {"messages", messages}} {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM " + c.table).Scan(&n); err != nil {
			return fmt.Errorf("after the %s: count %s: %w", what, c.table, err)
		}
		if n != c.want {
			return fmt.Errorf("after the %s: %d rows in %s, want %d (the export's)", what, n, c.table, c.want)
		}
	}
	return nil
}

func fileSizes(paths ...string) int64 {
	var n int64
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

func logTail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "log " + path + " (last lines):\n  " + strings.Join(lines, "\n  ")
}

// importSummary is the importer's closing summary (the indented lines
// after its last "Imported …" line) on one line, or its last output line.
func importSummary(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	var sum []string
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "Imported") {
			for _, l := range lines[i+1:] {
				sum = append(sum, strings.Join(strings.Fields(l), " "))
			}
			break
		}
	}
	if len(sum) == 0 {
		return strings.TrimSpace(lines[len(lines)-1])
	}
	return strings.Join(sum, "; ")
}

// exportGen writes a LeanCloud export from a seeded generator: the same
// sizes give the same bytes.
type exportGen struct {
	rng    *rand.Rand
	oidSeq uint32 // the counter part of generated objectIds
	buf    []byte
}

// generateLeanCloudExport writes into dir the files of a LeanCloud app with
// convs conversations of 2 to 20 members each (out of importClientPool
// clients named user0, user1, …) and messages history messages spread over
// them at random: _Conversation.0.jsonl and _ConversationMemberInfo.0.jsonl
// as the dashboard exports them (a #filetype header line, then one object a
// line; one member info per conversation, for its creator, the Owner), and
// messages/<convId>.0.json, one per conversation, each a JSON array of
// history records, newest first, as the REST history API answers.
func generateLeanCloudExport(dir string, convs, messages int) (importFiles, error) {
	f := importFiles{
		Conversations: filepath.Join(dir, "_Conversation.0.jsonl"),
		MemberInfos:   filepath.Join(dir, "_ConversationMemberInfo.0.jsonl"),
		Messages:      filepath.Join(dir, "messages"),
	}
	if err := os.MkdirAll(f.Messages, 0o755); err != nil {
		return f, err
	}
	g := &exportGen{rng: rand.New(rand.NewPCG(importSeed1, importSeed2))}
	start := importEnd - importSpanDays*24*3600*1000

	// Conversations first: the messages need their members.
	type conv struct {
		id        string
		members   []int32
		created   int64
		count     int
		timestamp []int64
	}
	cs := make([]conv, convs)
	for i := range cs {
		c := &cs[i]
		c.created = start - g.rng.Int64N(30*24*3600*1000)
		c.id = g.objectID(c.created)
		k := 2 + g.rng.IntN(19)
		for len(c.members) < k {
			m := int32(g.rng.IntN(importClientPool))
			if !slices.Contains(c.members, m) {
				c.members = append(c.members, m)
			}
		}
	}
	for range messages {
		cs[g.rng.IntN(convs)].count++
	}
	for i := range cs {
		c := &cs[i]
		c.timestamp = make([]int64, c.count)
		for j := range c.timestamp {
			c.timestamp[j] = start + g.rng.Int64N(importEnd-start)
		}
		slices.Sort(c.timestamp)
		for j := 1; j < len(c.timestamp); j++ {
			c.timestamp[j] = max(c.timestamp[j], c.timestamp[j-1]+1)
		}
	}

	var total int64
	write := func(path string, fill func(w *bufio.Writer) error) error {
		out, err := os.Create(path)
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(out, 256<<10)
		if err := fill(w); err != nil {
			out.Close()
			return err
		}
		if err := w.Flush(); err != nil {
			out.Close()
			return err
		}
		if fi, err := out.Stat(); err == nil {
			total += fi.Size()
		}
		return out.Close()
	}
	err := write(f.Conversations, func(w *bufio.Writer) error {
		w.WriteString(`#filetype:JSON-streaming {"type":"Class","class":"_Conversation"}` + "\n")
		for i := range cs {
			c := &cs[i]
			b := append(g.buf[:0], `{"objectId":"`...)
			b = append(b, c.id...)
			b = append(b, `","name":"group `...)
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, `","c":"user`...)
			b = strconv.AppendInt(b, int64(c.members[0]), 10)
			b = append(b, `","m":[`...)
			for j, m := range c.members {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, `"user`...)
				b = strconv.AppendInt(b, int64(m), 10)
				b = append(b, '"')
			}
			b = append(b, `],"mu":[`...)
			if g.rng.IntN(10) == 0 { // someone muted the conversation
				b = append(b, `"user`...)
				b = strconv.AppendInt(b, int64(c.members[g.rng.IntN(len(c.members))]), 10)
				b = append(b, '"')
			}
			b = append(b, `],"attr":{"topic":"`...)
			b = append(b, importTopics[g.rng.IntN(len(importTopics))]...)
			b = append(b, `"},"tr":false,"sys":false,"unique":false,`...)
			if n := len(c.timestamp); n > 0 {
				b = append(b, `"lm":{"__type":"Date","iso":"`...)
				b = appendISO(b, c.timestamp[n-1])
				b = append(b, `"},`...)
			}
			b = appendTimes(b, c.created)
			g.buf = b
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return f, err
	}
	err = write(f.MemberInfos, func(w *bufio.Writer) error {
		w.WriteString(`#filetype:JSON-streaming {"type":"Class","class":"_ConversationMemberInfo"}` + "\n")
		for i := range cs {
			c := &cs[i]
			b := append(g.buf[:0], `{"objectId":"`...)
			b = append(b, g.objectID(c.created)...)
			b = append(b, `","cid":"`...)
			b = append(b, c.id...)
			b = append(b, `","clientId":"user`...)
			b = strconv.AppendInt(b, int64(c.members[0]), 10)
			b = append(b, `","role":"Owner",`...)
			b = appendTimes(b, c.created)
			g.buf = b
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return f, err
	}
	for i := range cs {
		c := &cs[i]
		err := write(filepath.Join(f.Messages, c.id+".0.json"), func(w *bufio.Writer) error {
			w.WriteByte('[')
			for j := len(c.timestamp) - 1; j >= 0; j-- { // newest first
				b := g.buf[:0]
				if j < len(c.timestamp)-1 {
					b = append(b, ",\n"...)
				}
				b = append(b, `{"timestamp":`...)
				b = strconv.AppendInt(b, c.timestamp[j], 10)
				b = append(b, `,"conv-id":"`...)
				b = append(b, c.id...)
				b = append(b, `","data":`...)
				b = g.appendContent(b, c.timestamp[j])
				b = append(b, `,"from":"user`...)
				b = strconv.AppendInt(b, int64(c.members[g.rng.IntN(len(c.members))]), 10)
				b = append(b, `","msg-id":"`...)
				b = g.appendMsgID(b)
				b = append(b, `","is-conv":true,"is-room":false,"to":"`...)
				b = append(b, c.id...)
				b = append(b, `","bin":false,"from-ip":"10.0.`...)
				b = strconv.AppendInt(b, int64(g.rng.IntN(256)), 10)
				b = append(b, '.')
				b = strconv.AppendInt(b, int64(1+g.rng.IntN(254)), 10)
				b = append(b, `"}`...)
				g.buf = b
				if _, err := w.Write(b); err != nil {
					return err
				}
			}
			_, err := w.WriteString("]\n")
			return err
		})
		if err != nil {
			return f, err
		}
		c.timestamp = nil
	}
	f.Bytes = total
	return f, nil
}

var (
	importTopics = []string{"x", "work", "family", "football", "books", "travel", "music", "games"}
	importWords  = []string{"hello", "world", "the", "meeting", "is", "at", "noon", "see", "you", "later",
		"ok", "thanks", "lunch", "today", "tomorrow", "coffee", "?", "!", "great", "idea", "你好", "谢谢", "café", "👍"}
)

// objectID is a MongoDB-style objectId as LeanCloud hands them out: 4 bytes
// of seconds, 5 random bytes, a 3-byte counter; 24 lowercase hex digits.
func (g *exportGen) objectID(ms int64) string {
	var b [12]byte
	sec := uint32(ms / 1000)
	b[0], b[1], b[2], b[3] = byte(sec>>24), byte(sec>>16), byte(sec>>8), byte(sec)
	r := g.rng.Uint64()
	for i := 4; i < 9; i++ {
		b[i] = byte(r)
		r >>= 8
	}
	g.oidSeq++
	b[9], b[10], b[11] = byte(g.oidSeq>>16), byte(g.oidSeq>>8), byte(g.oidSeq)
	return hex.EncodeToString(b[:])
}

const msgIDAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// appendMsgID appends a message id like LeanCloud's: 22 of [A-Za-z0-9].
func (g *exportGen) appendMsgID(b []byte) []byte {
	for range 22 {
		b = append(b, msgIDAlphabet[g.rng.IntN(len(msgIDAlphabet))])
	}
	return b
}

// appendContent appends a message's "data": a JSON string holding, ~80% of
// the time, a text message (-1), else an image (-2, ~8%), a file (-6, ~4%),
// a location (-5, ~3%), a custom type (3, ~3%) or plain text that is not
// JSON (~2%).
func (g *exportGen) appendContent(b []byte, ts int64) []byte {
	var c []byte
	r := g.rng.IntN(100)
	switch {
	case r < 80:
		c = append(c, `{"_lctype":-1,"_lctext":"`...)
		c = g.appendText(c, 20+g.rng.IntN(101))
		c = append(c, '"')
		if g.rng.IntN(10) == 0 {
			c = append(c, `,"_lcattrs":{"k":"v","n":`...)
			c = strconv.AppendInt(c, int64(g.rng.IntN(1000)), 10)
			c = append(c, '}')
		}
		c = append(c, '}')
	case r < 88:
		oid := g.objectID(ts)
		w, h := 200+g.rng.IntN(1800), 200+g.rng.IntN(1800)
		c = append(c, `{"_lctype":-2,"_lcfile":{"url":"https://files.example.com/`...)
		c = append(c, oid...)
		c = append(c, `.jpg","objId":"`...)
		c = append(c, oid...)
		c = append(c, `","metaData":{"name":"IMG_`...)
		c = strconv.AppendInt(c, int64(g.rng.IntN(10000)), 10)
		c = append(c, `.jpg","format":"jpg","height":`...)
		c = strconv.AppendInt(c, int64(h), 10)
		c = append(c, `,"width":`...)
		c = strconv.AppendInt(c, int64(w), 10)
		c = append(c, `,"size":`...)
		c = strconv.AppendInt(c, int64(w*h/8+g.rng.IntN(10000)), 10)
		c = append(c, `}}}`...)
	case r < 92:
		oid := g.objectID(ts)
		size := int64(1000 + g.rng.IntN(5_000_000))
		name := "report-" + strconv.Itoa(g.rng.IntN(1000)) + ".pdf"
		c = append(c, `{"_lctype":-6,"_lctext":"the file","_lcfile":{"url":"https://files.example.com/`...)
		c = append(c, oid...)
		c = append(c, `.pdf","objId":"`...)
		c = append(c, oid...)
		if g.rng.IntN(4) == 0 { // the REST docs' form: name and size in _lcfile
			c = append(c, `","name":"`...)
			c = append(c, name...)
			c = append(c, `","size":`...)
			c = strconv.AppendInt(c, size, 10)
			c = append(c, `}}`...)
		} else { // the SDKs' form: in metaData
			c = append(c, `","metaData":{"name":"`...)
			c = append(c, name...)
			c = append(c, `","format":"pdf","size":`...)
			c = strconv.AppendInt(c, size, 10)
			c = append(c, `}}}`...)
		}
	case r < 95:
		c = append(c, `{"_lctype":-5,"_lcloc":{"latitude":`...)
		c = strconv.AppendFloat(c, 20+float64(g.rng.IntN(2000))/100, 'f', -1, 64)
		c = append(c, `,"longitude":`...)
		c = strconv.AppendFloat(c, 100+float64(g.rng.IntN(2000))/100, 'f', -1, 64)
		c = append(c, `},"_lctext":"here"}`...)
	case r < 98:
		c = append(c, `{"_lctype":3,"_lctext":"x","card":{"title":"t`...)
		c = strconv.AppendInt(c, int64(g.rng.IntN(100)), 10)
		c = append(c, `"}}`...)
	default:
		c = g.appendText(c, 10+g.rng.IntN(40))
	}
	return appendJSONString(b, c)
}

// appendText appends about n bytes of words (at most n, at least n-4),
// starting "hello 123".
func (g *exportGen) appendText(b []byte, n int) []byte {
	from := len(b)
	b = append(b, "hello "...)
	b = strconv.AppendInt(b, int64(g.rng.IntN(1000)), 10)
	for len(b)-from < n {
		b = append(b, ' ')
		b = append(b, importWords[g.rng.IntN(len(importWords))]...)
	}
	if end := from + n; end < len(b) {
		for end > from && !utf8.RuneStart(b[end]) {
			end--
		}
		b = b[:end]
	}
	for len(b) > from && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

// appendJSONString appends s as a JSON string (s is valid UTF-8).
func appendJSONString(b, s []byte) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// appendTimes ends a row: its createdAt and updatedAt, both ms, and the
// line's end.
func appendTimes(b []byte, ms int64) []byte {
	b = append(b, `"createdAt":"`...)
	b = appendISO(b, ms)
	b = append(b, `","updatedAt":"`...)
	b = appendISO(b, ms)
	return append(b, "\"}\n"...)
}

func appendISO(b []byte, ms int64) []byte {
	return time.UnixMilli(ms).UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
}
