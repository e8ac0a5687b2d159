// Package convquery owns the conversation query: the compiler of
// LeanCloud/Parse-style where and sort queries into parameterised SQL over
// the conversations table (CompileWhere, CompileWhereFor, CompileSort), the
// limits that keep any query cheap and within SQLite's own (MaxWhereBytes,
// MaxRegexLen, ...), the errors a malformed query is (QueryError), and the
// planner that chooses how to answer a compiled query (QueryConversations:
// lookup, probe or walk, by the sizes of its index lookups), with its cache
// of recent choices.
//
// It is apart from package store because it is the biggest single piece of
// it, with tests of its own: a reference evaluator of the language compared
// with the SQL on random data and queries, the shapes and plans of lookups,
// the limits, fuzzing (FuzzCompileWhere, FuzzWhereNeverFails) and a
// benchmark. It builds on store (Reader, Conversation, the schema and the
// attribute index of migration 0006); store does not import it. Two pieces
// stay in store for that reason:
//
//   - parley_regexp, the SQL function the compiled $regex conditions call,
//     is registered on every connection by store's driver (store/regexp.go);
//     its longest pattern, store.MaxRegexpPattern, is MaxRegexLen and the
//     flags prefix.
//   - the plan cache is per database, as the choices depend on its sizes: it
//     is kept on the database's read pool in an opaque slot
//     (store.PoolState), under a key of this package's type (see plansOf).
package convquery
