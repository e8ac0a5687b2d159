package convquery

import "testing"

func BenchmarkCompileWhere(b *testing.B) {
	where := []byte(`{"$or":[{"m":{"$all":["Tom","Jerry"]},"tr":false},{"topic":{"$regex":"^che","$options":"i"},"lm":{"$gt":1795449600000}}],"level":{"$in":[1,2,3]}}`)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := CompileWhere(where); err != nil {
			b.Fatal(err)
		}
	}
}
