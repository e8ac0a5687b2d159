package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/parley-im/parley/leancloud"
	"github.com/parley-im/parley/store"
)

const importUsage = `Usage:
  parley import leancloud [-db file] [-conversations F] [-member-infos F] [-messages F|DIR]... [-dry-run]
  parley import leancloud [-db file] -server URL -app-id ID -master-key KEY -save DIR [-dry-run]

Imports a LeanCloud app's conversations, member roles and message history
into Parley's database, keeping conversation ids, message ids, senders and
timestamps. From files: the dashboard's exports of _Conversation and
_ConversationMemberInfo (JSON lines with a #filetype: header, plain JSON
lines, a JSON array or {"results": [...]}) and history as LeanCloud's REST
history API returns it (-messages: a file or a directory of them, may be
given more than once). From a live app: -server pulls all of it through
LeanCloud's REST API into -save DIR first (resumable: run it again to go
on), then imports DIR; after LeanCloud is gone the same import runs from
DIR's files (-conversations DIR/_Conversation.0.jsonl -member-infos
DIR/_ConversationMemberInfo.0.jsonl -messages DIR/messages).

What is in the database already is left as it is: running an import again
adds only what is missing. Records that cannot be imported are listed (file,
line, reason) and skipped. The server must not be running on the database
meanwhile: the import refuses a database in use.

`

// stringList is a flag that may be given more than once.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// importCommand is `parley import leancloud …`.
func importCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "leancloud" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fmt.Fprint(stdout, importUsage)
			return flag.ErrHelp
		}
		return usageError{errors.New(`what to import: "parley import leancloud" (-h lists its flags)`)}
	}
	fs := flag.NewFlagSet("import leancloud", flag.ContinueOnError)
	db := fs.String("db", "./data/parley.db", "SQLite database `file` to import into (or PARLEY_DB)")
	convs := fs.String("conversations", "", "`file`: the _Conversation export")
	infos := fs.String("member-infos", "", "`file`: the _ConversationMemberInfo export")
	var messages stringList
	fs.Var(&messages, "messages", "history `file or directory` (repeatable)")
	dryRun := fs.Bool("dry-run", false, "read and convert everything, write nothing to the database")
	serverURL := fs.String("server", "", "`URL` of the LeanCloud app's API domain: pull from the live app")
	appID := fs.String("app-id", "", "the LeanCloud app's `id` (with -server)")
	masterKey := fs.String("master-key", "", "the LeanCloud app's master `key` (with -server; or LEANCLOUD_MASTER_KEY)")
	save := fs.String("save", "", "`directory` the pull saves everything to (with -server)")
	rate := fs.Int("rate", leancloud.DefaultRatePerMinute, "LeanCloud API `requests` per minute, at most (with -server)")
	report := fs.String("report", "", "also write every skipped record to this `file`")
	if err := parseSub(fs, args[1:], stdout, importUsage); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if v := getenv("PARLEY_DB"); v != "" && !given["db"] {
		*db = v
	}
	if *masterKey == "" {
		*masterKey = getenv("LEANCLOUD_MASTER_KEY")
	}
	opt := leancloud.ImportOptions{Conversations: *convs, MemberInfos: *infos, Messages: messages, DryRun: *dryRun}
	pulling := *serverURL != ""
	switch {
	case pulling && (*convs != "" || *infos != "" || len(messages) > 0):
		return usageError{errors.New("-server pulls the files itself: give either -server or files, not both")}
	case pulling && (*appID == "" || *masterKey == "" || *save == ""):
		return usageError{errors.New("-server needs -app-id, -master-key (or LEANCLOUD_MASTER_KEY) and -save")}
	case !pulling && (given["app-id"] || given["master-key"] || given["save"] || given["rate"]):
		return usageError{errors.New("-app-id, -master-key, -save and -rate go with -server")}
	case !pulling && *convs == "" && *infos == "" && len(messages) == 0:
		return usageError{errors.New("nothing to import: give -conversations, -member-infos or -messages, or -server")}
	}
	out := newImportDisplay(stdout, stderr)
	defer out.stop()
	if pulling {
		// The database must be free before minutes of pulling, not after.
		if !*dryRun {
			if err := checkFree(*db); err != nil {
				return err
			}
		}
		if err := pull(ctx, out, leancloud.PullOptions{Server: *serverURL, AppID: *appID, MasterKey: *masterKey,
			Dir: *save, RatePerMinute: *rate}); err != nil {
			return err
		}
		opt.Conversations = filepath.Join(*save, leancloud.ConversationFile)
		opt.MemberInfos = filepath.Join(*save, leancloud.MemberInfoFile)
		opt.Messages = []string{filepath.Join(*save, leancloud.MessagesDir)}
		for _, f := range []*string{&opt.Conversations, &opt.MemberInfos} {
			if _, err := os.Stat(*f); errors.Is(err, os.ErrNotExist) {
				*f = "" // nothing of that class in the app
			}
		}
		if _, err := os.Stat(opt.Messages[0]); errors.Is(err, os.ErrNotExist) {
			opt.Messages = nil
		}
	}
	var reportFile *os.File
	if *report != "" {
		f, err := os.Create(*report)
		if err != nil {
			return err
		}
		defer f.Close()
		reportFile = f
	}
	var listed int
	opt.Report = func(p leancloud.Problem) {
		if reportFile != nil {
			fmt.Fprintf(reportFile, "%s: %s\n", p.Cause, p)
		}
		if listed++; listed <= maxListedProblems {
			verb := "skipped"
			if !p.Skipped {
				verb = "note"
			}
			out.println(stderr, fmt.Sprintf("%s %s", verb, p))
		}
	}
	var database *store.DB
	if !*dryRun {
		var err error
		// Synchronous "normal": a batch lost to a power cut is imported
		// again by the next run; the import itself need not wait for
		// fsyncs.
		database, err = store.Open(*db, store.Options{Synchronous: "normal", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			return err
		}
	}
	opt.Progress = &leancloud.ImportProgress{}
	out.watch(opt.Progress)
	stats, err := leancloud.Import(ctx, database, opt)
	if database != nil {
		if cerr := database.Close(); err == nil {
			err = cerr
		}
	}
	out.stop()
	printSummary(stdout, *db, stats, *dryRun, listed)
	if err != nil && ctx.Err() != nil {
		return errors.New("interrupted: what was imported is kept; run the same command again to import the rest")
	}
	return err
}

// maxListedProblems bounds the problems printed; -report keeps them all.
const maxListedProblems = 100

// checkFree fails when the database is in use: Open then Close.
func checkFree(path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	db, err := store.Open(path, store.Options{Synchronous: "normal", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	return db.Close()
}

func pull(ctx context.Context, out *importDisplay, opt leancloud.PullOptions) error {
	out.startPull()
	opt.Progress = out.pullProgress
	stats, err := leancloud.Pull(ctx, opt)
	out.stop()
	fmt.Fprintf(out.stdout, "Pulled from LeanCloud into %s: %d conversations, %d member infos, %d messages (%d requests, %d retried).\n",
		opt.Dir, stats.Conversations, stats.MemberInfos, stats.Messages, stats.Requests, stats.Retries)
	if err != nil && ctx.Err() != nil {
		return errors.New("interrupted: what was pulled is kept; run the same command again to go on")
	}
	return err
}

func printSummary(w io.Writer, db string, s leancloud.ImportStats, dryRun bool, listed int) {
	if dryRun {
		fmt.Fprintf(w, "Dry run (%s): nothing was written. The import would store:\n", s.Elapsed.Round(time.Millisecond))
	} else {
		fmt.Fprintf(w, "Imported into %s in %s:\n", db, s.Elapsed.Round(time.Millisecond))
	}
	rate := ""
	if secs := s.Elapsed.Seconds(); secs > 0 && s.Messages > 0 {
		rate = fmt.Sprintf(" (%.0f messages/s)", float64(s.Messages)/secs)
	}
	fmt.Fprintf(w, "  conversations  %d new, %d already there\n", s.Conversations, s.ConversationsExisting)
	fmt.Fprintf(w, "  members        %d\n", s.Members)
	fmt.Fprintf(w, "  member roles   %d new or updated, %d already there\n", s.MemberInfos, s.MemberInfosExisting)
	fmt.Fprintf(w, "  messages       %d new, %d already there%s\n", s.Messages, s.MessagesExisting, rate)
	causes := make([]string, 0, len(s.Problems))
	for c := range s.Problems {
		causes = append(causes, c)
	}
	sort.Slice(causes, func(i, j int) bool { return s.Problems[causes[i]] > s.Problems[causes[j]] })
	fmt.Fprintf(w, "  skipped        %d records\n", s.Skipped())
	for _, c := range causes {
		fmt.Fprintf(w, "    %8d  %s\n", s.Problems[c], c)
	}
	if listed > maxListedProblems {
		fmt.Fprintf(w, "  (the first %d problems are listed above; -report FILE lists all)\n", maxListedProblems)
	}
}

// importDisplay shows progress: a bar on a terminal, a line every few
// seconds otherwise.
type importDisplay struct {
	stdout, stderr io.Writer
	tty            bool
	mu             sync.Mutex
	bar            *progressbar.ProgressBar
	done           chan struct{}
	wg             sync.WaitGroup
	lastLine       time.Time
}

func newImportDisplay(stdout, stderr io.Writer) *importDisplay {
	d := &importDisplay{stdout: stdout, stderr: stderr}
	if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		d.tty = true
	}
	return d
}

// println prints a line without breaking the bar.
func (d *importDisplay) println(w io.Writer, line string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.bar != nil {
		d.bar.Clear()
	}
	fmt.Fprintln(w, line)
}

// plainEvery is how often progress lines are printed when not on a terminal.
const plainEvery = 5 * time.Second

func (d *importDisplay) startPull() {
	if d.tty {
		d.bar = progressbar.NewOptions(-1, progressbar.OptionSetWriter(d.stdout), progressbar.OptionSpinnerType(14),
			progressbar.OptionSetDescription("pulling from LeanCloud"), progressbar.OptionThrottle(100*time.Millisecond))
	}
}

func (d *importDisplay) pullProgress(s leancloud.PullStats) {
	d.mu.Lock()
	defer d.mu.Unlock()
	text := fmt.Sprintf("pulled %d conversations, %d member infos, %d messages (%d of the histories done; %d requests)",
		s.Conversations, s.MemberInfos, s.Messages, s.Histories, s.Requests)
	if d.bar != nil {
		d.bar.Describe(text)
		d.bar.Add(1)
		return
	}
	if time.Since(d.lastLine) >= plainEvery {
		d.lastLine = time.Now()
		fmt.Fprintln(d.stdout, text)
	}
}

// watch shows p until stop.
func (d *importDisplay) watch(p *leancloud.ImportProgress) {
	d.mu.Lock()
	if d.tty {
		d.bar = progressbar.NewOptions64(max(p.BytesTotal.Load(), 1), progressbar.OptionSetWriter(d.stdout),
			progressbar.OptionShowBytes(true), progressbar.OptionSetWidth(24), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetPredictTime(true))
	}
	done := make(chan struct{})
	d.done = done
	d.mu.Unlock()
	start := time.Now()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		every := plainEvery
		if d.tty {
			every = 200 * time.Millisecond
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			phase, _ := p.Phase.Load().(string)
			msgs := p.Messages.Load()
			text := fmt.Sprintf("%s: %d conversations, %d messages (%.0f/s), %d skipped", phase,
				p.Conversations.Load(), msgs, float64(msgs)/time.Since(start).Seconds(), p.Skipped.Load())
			if d.tty {
				text = fmt.Sprintf("%d conv · %d msgs · %.0f/s · %d skipped", p.Conversations.Load(), msgs,
					float64(msgs)/time.Since(start).Seconds(), p.Skipped.Load())
			}
			d.mu.Lock()
			if d.bar != nil {
				d.bar.ChangeMax64(max(p.BytesTotal.Load(), 1))
				d.bar.Describe(text)
				d.bar.Set64(p.BytesRead.Load())
			} else {
				total := max(p.BytesTotal.Load(), 1)
				fmt.Fprintf(d.stdout, "%s; %.0f%% of the files read\n", text, 100*float64(p.BytesRead.Load())/float64(total))
			}
			d.mu.Unlock()
		}
	}()
}

// stop ends the display (again: a no-op).
func (d *importDisplay) stop() {
	d.mu.Lock()
	done := d.done
	d.done = nil
	d.mu.Unlock()
	if done != nil {
		close(done)
		d.wg.Wait()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.bar != nil {
		d.bar.Finish()
		fmt.Fprintln(d.stdout)
		d.bar = nil
	}
}
