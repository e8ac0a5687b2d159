package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/parley-im/parley/leancloud"
	"github.com/parley-im/parley/store"
)

func main() {
	os.Remove(os.Args[1])
	os.Remove(os.Args[1] + "-wal")
	db, err := store.Open(os.Args[1], store.Options{Synchronous: "normal"})
	if err != nil {
		panic(err)
	}
	f, _ := os.Create("/tmp/imp.prof")
	pprof.StartCPUProfile(f)
	st, err := leancloud.Import(context.Background(), db, leancloud.ImportOptions{Conversations: os.Args[2] + "/_Conversation.0.jsonl", Messages: []string{os.Args[2] + "/messages"}})
	pprof.StopCPUProfile()
	db.Close()
	fmt.Println(st.Messages, st.Elapsed, err)
}
