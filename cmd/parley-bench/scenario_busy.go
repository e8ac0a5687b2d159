package main

func init() {
	register(&Scenario{
		Name:        "busy",
		Help:        "the busy conversation: C concurrent durable sends from one session into one conversation, one receiver streaming (compare send at the same C)",
		Concurrency: 64,
		Run:         runBusy,
	})
}

// runBusy measures what send spreads over many conversations, gathered on
// one: one sender session keeps C sends in flight into one one-to-one
// conversation, whose other member streams. Every send of the window
// contends for the same conversation's order and the same session.
func runBusy(env *Env) error {
	c, err := env.StartServer()
	if err != nil {
		return err
	}
	ctx, rep := env.Ctx, env.Report
	rep.Param("conversations", 1)
	rep.Param("sender_sessions", 1)
	rep.Param("receivers_streaming", 1)
	tokens, err := c.LoginAll(ctx, []string{"sender", "receiver"})
	if err != nil {
		return err
	}
	conv, err := c.CreateConversation(ctx, tokens[0], []string{"receiver"})
	if err != nil {
		return err
	}
	senders := make([]senderSpec, env.Concurrency)
	for i := range senders {
		senders[i] = senderSpec{Token: tokens[0], Convs: []string{conv}}
	}
	w := &window{}
	rs, err := c.OpenStreams(ctx, tokens[1:], w)
	if err != nil {
		return err
	}
	defer closeAll(rs)

	progress("busy: %d concurrent sends from one session into one conversation for %s + %s warm-up", env.Concurrency, env.Duration, env.Warmup)
	if err := measureSends(env, c, senders, w, rs, ""); err != nil {
		return err
	}
	rep.Note("compare with -scenario send at the same -concurrency: the target is a busy conversation at least as fast as sends spread over many")
	return nil
}
