package protos

// Redeliver reports whether the activation that got the command did not decide it because it
// is gone (Error.redeliver): cluster.Node.Request then delivers it again to the current one.
func (r *Reply) Redeliver() bool { return r.GetError().GetRedeliver() }
