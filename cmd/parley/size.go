package main

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// byteSize is a flag value of a number of bytes, written plainly (1048576)
// or with a unit: KiB, MiB, GiB (powers of 1024; K, M, G and KB, MB, GB are
// read the same way, as people mean them for upload limits) or B.
type byteSize int64

var sizeUnits = []struct {
	suffix string
	factor int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30},
	{"b", 1},
}

func (b *byteSize) Set(s string) error {
	v := strings.ToLower(strings.TrimSpace(s))
	factor := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(v, u.suffix) {
			v, factor = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return errors.New("not a size: bytes, or a number and a unit, e.g. 20MiB or 1048576")
	}
	if n > math.MaxInt64/factor {
		return errors.New("too large a size")
	}
	*b = byteSize(n * factor)
	return nil
}

func (b byteSize) String() string {
	n := int64(b)
	switch {
	case n != 0 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n != 0 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n != 0 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10)
}
