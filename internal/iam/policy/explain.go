package policy

// StatementExplanation is one statement as an explanation shows it: how
// each element fared and every condition's result, not only the first
// that failed (what a person fixing a policy needs to see at once).
type StatementExplanation struct {
	StatementTrace
	// Conditions holds every condition of the statement in document order,
	// evaluated even after one has failed. Empty when an element before
	// Condition (Principal, Action, Resource) already did not match: the
	// conditions were then never consulted, and are listed as
	// NotEvaluated.
	Conditions []ConditionResult
	// NotEvaluated are the conditions skipped because an earlier element
	// failed.
	NotEvaluated []ConditionTrace
}

// ConditionResult is one condition with its outcome.
type ConditionResult struct {
	ConditionTrace
	Satisfied bool
}

// Explain decides req against policies exactly as Evaluate does and
// returns, besides the decision, every statement's explanation. It is
// for tools (explain, simulation) and costs more than EvaluateTrace: the
// request path never calls it.
func Explain(req *Request, policies ...*Policy) (Decision, []StatementExplanation) {
	d, trace := EvaluateTrace(req, policies...)
	out := make([]StatementExplanation, len(trace))
	for i, tr := range trace {
		s := policies[tr.Policy].Statements[tr.Statement]
		vars := policies[tr.Policy].variables
		out[i].StatementTrace = tr
		if tr.Failed != "" && tr.Failed != "Condition" {
			for _, c := range s.Conditions {
				out[i].NotEvaluated = append(out[i].NotEvaluated, ConditionTrace{Operator: c.Operator, Key: c.Key, Expected: c.Values})
			}
			continue
		}
		out[i].Conditions = make([]ConditionResult, len(s.Conditions))
		for j, c := range s.Conditions {
			var ct ConditionTrace
			ok := c.test(req.Context, vars, &ct)
			out[i].Conditions[j] = ConditionResult{ConditionTrace: ct, Satisfied: ok}
		}
	}
	return d, out
}
