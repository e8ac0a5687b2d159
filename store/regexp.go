package store

import (
	"regexp"
	"sync"
	"sync/atomic"
)

// The SQL function parley_regexp(pattern, value), registered on every
// connection (see driverName), is what the $regex conditions compiled by
// package convquery call. It stays here, beside the driver that registers
// it, because store cannot import convquery (which imports store).

// MaxRegexpPattern is the longest pattern parley_regexp compiles: the
// longest $regex a where may hold (convquery.MaxRegexLen, 256) and the
// flags prefix the compiler puts before it, such as "(?ims)". A longer
// pattern matches nothing.
const MaxRegexpPattern = 256 + 8

// regexCache keeps compiled patterns of the parley_regexp SQL function
// (queries repeat their pattern for every row); it is emptied when full, so
// patterns sent by clients cannot grow it without bound.
var (
	regexCache     sync.Map
	regexCacheSize atomic.Int64
)

const regexCacheMax = 512

func regexpMatch(pattern string, value any) bool {
	s, ok := value.(string)
	if !ok {
		return false
	}
	var re *regexp.Regexp
	if v, ok := regexCache.Load(pattern); ok {
		re = v.(*regexp.Regexp)
	} else {
		var err error
		if len(pattern) > MaxRegexpPattern {
			return false
		}
		if re, err = regexp.Compile(pattern); err != nil {
			return false
		}
		if regexCacheSize.Add(1) > regexCacheMax {
			regexCache.Clear()
			regexCacheSize.Store(1)
		}
		regexCache.Store(pattern, re)
	}
	return re.MatchString(s)
}
