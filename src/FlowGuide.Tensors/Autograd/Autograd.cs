namespace FlowGuide.Tensors;

/// <summary>
/// Reverse-mode differentiation over the recorded tape: <see cref="Backward"/> accumulates into leaves'
/// <see cref="Tensor.Grad"/>, <see cref="Grad"/> returns gradients for chosen tensors only and touches nothing else.
/// </summary>
public static class Autograd
{
    /// <summary>What the current backward pass wants gradients for; nested passes (checkpointing) consult it.</summary>
    internal sealed class PassContext
    {
        public required Func<Tensor, bool> IsTarget;
        public required Action<Tensor, Tensor> OnTargetGrad;
    }

    [ThreadStatic] private static PassContext? _current;

    internal static PassContext? Current => _current;

    /// <summary>
    /// Records <paramref name="output"/> as produced by <paramref name="op"/> when grad mode is on and any input requires a
    /// gradient; otherwise returns it untouched. This is how every op, and any fused op outside this library, joins the tape.
    /// </summary>
    public static Tensor Record(Tensor output, string op, BackwardFn backward, params Tensor[] inputs)
    {
        if (OpProfile.Active) OpProfile.OpDone(op);
        if (!GradMode.IsEnabled) return output;
        bool any = false;
        foreach (var x in inputs)
            if (x.RequiresGrad) { any = true; break; }
        if (!any) return output;
        output.GradFn = new Node(op, inputs, backward);
        output.RequiresGrad = true;
        return output;
    }

    /// <summary>
    /// Back-propagates from a scalar (or from <paramref name="gradOutput"/> for a non-scalar) and adds the result to
    /// <see cref="Tensor.Grad"/> of every leaf that requires a gradient (gradients accumulate across calls).
    /// </summary>
    public static void Backward(Tensor output, Tensor? gradOutput = null, bool retainGraph = false)
    {
        var ctx = new PassContext
        {
            IsTarget = t => t.IsLeaf && t.RequiresGrad,
            // A first gradient is cloned: ops pass gradients through by reference (Add gives both inputs the same tensor),
            // and two leaves must never share a Grad that a user then scales in place (gradient clipping).
            OnTargetGrad = (t, g) => t.Grad = t.Grad is null ? g.Clone() : Accumulate(t.Grad, g),
        };
        Run(new[] { output }, new[] { SeedGrad(output, gradOutput, "Backward") }, ctx, retainGraph);
    }

    /// <summary>
    /// Gradients of <paramref name="output"/> with respect to <paramref name="inputs"/> only; leaves' <see cref="Tensor.Grad"/>
    /// are untouched and ops skip the work for frozen weights (guidance asks for d loss / d latent this way).
    /// An input that does not influence the output gets a zero tensor of its shape.
    /// </summary>
    public static Tensor[] Grad(Tensor output, IReadOnlyList<Tensor> inputs, Tensor? gradOutput = null, bool retainGraph = false)
    {
        var targets = new HashSet<Tensor>(inputs, ReferenceEqualityComparer.Instance);
        var results = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance);
        var ctx = new PassContext
        {
            IsTarget = targets.Contains,
            OnTargetGrad = (t, g) => results[t] = results.TryGetValue(t, out var prev) ? Accumulate(prev, g) : g,
        };
        Run(new[] { output }, new[] { SeedGrad(output, gradOutput, "Grad") }, ctx, retainGraph);
        var r = new Tensor[inputs.Count];
        for (int i = 0; i < r.Length; i++)
            r[i] = results.TryGetValue(inputs[i], out var g) ? g : Tensor.Zeros(inputs[i].Shape);
        return r;
    }

    private static Tensor SeedGrad(Tensor output, Tensor? gradOutput, string op)
    {
        if (!output.RequiresGrad)
            throw new InvalidOperationException($"{op}: the output does not require a gradient (no input that requires one was used, or it was computed under NoGrad).");
        if (gradOutput is null)
        {
            if (output.Numel != 1)
                throw new ArgumentException($"{op}: output of shape {output.Shape} is not a scalar; pass gradOutput of the same shape.");
            return Tensor.OnesLike(output);
        }
        if (gradOutput.Shape != output.Shape)
            throw new ArgumentException($"{op}: gradOutput shape {gradOutput.Shape} does not match output shape {output.Shape}.");
        return gradOutput;
    }

    private static Tensor Accumulate(Tensor a, Tensor b)
    {
        using var _ = GradMode.NoGrad();
        return Ops.Add(a, b);
    }

    /// <summary>
    /// The engine: an iterative post-order sort of the graph, a relevance pass that prunes branches leading to no target,
    /// then one sweep in reverse topological order. Broadcast gradients are summed back to input shapes here, once.
    /// </summary>
    internal static void Run(Tensor[] roots, Tensor[] rootGrads, PassContext ctx, bool retainGraph)
    {
        // 1. Iterative post-order DFS (a 30-layer model's tape is far too deep for recursion).
        var order = new List<Tensor>();
        var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Tensor t, int next)>();
        foreach (var r in roots)
        {
            if (!visited.Add(r)) continue;
            stack.Push((r, 0));
            while (stack.Count > 0)
            {
                var (t, next) = stack.Pop();
                var node = t.GradFn;
                if (node is not null && node.Released)
                    throw new InvalidOperationException($"Backward: the graph through '{node.Op}' was already freed by an earlier backward pass; pass retainGraph: true to differentiate twice.");
                if (node is not null && next < node.Inputs.Length)
                {
                    stack.Push((t, next + 1));
                    var child = node.Inputs[next];
                    if (child.RequiresGrad && visited.Add(child)) stack.Push((child, 0));
                }
                else order.Add(t);
            }
        }

        // 2. Relevance: a tensor matters if it is a target or some input of its op matters (inputs come first in post-order).
        var relevant = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var t in order)
        {
            bool rel = ctx.IsTarget(t);
            if (!rel && t.GradFn is { } n)
                foreach (var x in n.Inputs)
                    if (relevant.Contains(x)) { rel = true; break; }
            if (rel) relevant.Add(t);
        }

        // 3. Sweep in reverse topological order. Gradient buffers this pass allocates go back to the pool as soon as
        //    nothing can read them any more (see GradientBuffers), so the pass holds about one layer's gradients at a
        //    time instead of all of them until the garbage collector runs.
        var buffers = new GradientBuffers(Storage.LastId);
        foreach (var rg in rootGrads) buffers.Pin(rg);
        var grads = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < roots.Length; i++)
        {
            if (grads.Remove(roots[i], out var g0)) buffers.Drop(g0);
            var v = g0 is null ? rootGrads[i] : Accumulate(g0, rootGrads[i]);
            grads[roots[i]] = v;
            buffers.Hold(v);
        }

        var consumed = new List<Tensor>(); // per node: the gradients its backward has used up, to free if nothing holds them
        var saved = _current;
        _current = ctx;
        try
        {
            using var noGrad = GradMode.NoGrad();
            for (int k = order.Count - 1; k >= 0; k--)
            {
                var t = order[k];
                if (!grads.Remove(t, out var g)) continue;
                buffers.Drop(g);
                if (!relevant.Contains(t)) { buffers.ReleaseIfDead(g); continue; }
                if (ctx.IsTarget(t)) { buffers.Pin(g); ctx.OnTargetGrad(t, g); }
                var node = t.GradFn;
                if (node is null) { buffers.ReleaseIfDead(g); continue; }
                var inputs = node.Inputs;
                var needs = new bool[inputs.Length];
                bool anyNeeded = false;
                for (int i = 0; i < inputs.Length; i++) anyNeeded |= needs[i] = inputs[i].RequiresGrad && relevant.Contains(inputs[i]);
                if (!anyNeeded) { buffers.ReleaseIfDead(g); continue; }
                long profiled = OpProfile.Active ? OpProfile.BackwardStart() : 0;
                var inGrads = node.Backward!(g, needs);
                consumed.Clear();
                consumed.Add(g);
                for (int i = 0; i < inputs.Length; i++)
                {
                    if (!needs[i] || i >= inGrads.Length || inGrads[i] is not { } raw) continue;
                    var gi = Ops.SumToShape(raw, inputs[i].Shape, node.Op);
                    if (!ReferenceEquals(gi, raw)) consumed.Add(raw);
                    if (grads.Remove(inputs[i], out var prev))
                    {
                        buffers.Drop(prev);
                        consumed.Add(prev);
                        consumed.Add(gi);
                        gi = Accumulate(prev, gi);
                    }
                    grads[inputs[i]] = gi;
                    buffers.Hold(gi);
                }
                foreach (var c in consumed) buffers.ReleaseIfDead(c);
                if (profiled != 0) OpProfile.BackwardDone(node.Op, profiled);
                if (!retainGraph) node.Release();
            }
        }
        finally
        {
            _current = saved;
        }
    }

    /// <summary>
    /// Which gradient buffers a backward pass may give back to the pool early. A buffer is released once it is (a)
    /// created during this pass (storage id above the pass's start, so never a forward activation, a leaf's
    /// <see cref="Tensor.Grad"/> or a gradient the caller passed in), (b) never handed to a target's sink (the caller
    /// keeps those: <see cref="Grad"/>'s results, checkpoint segments' input gradients), and (c) held by no pending
    /// gradient. Ops pass gradients through by reference (Add gives both inputs the same tensor, Reshape a view of
    /// it), so the count is per storage, not per tensor. An op that kept a gradient it was given beyond its backward call
    /// would read a released buffer, which throws rather than reading another tensor's data.
    /// </summary>
    private sealed class GradientBuffers(long createdAfter)
    {
        private readonly Dictionary<Storage, int> _pending = new(ReferenceEqualityComparer.Instance);
        private readonly HashSet<Storage> _pinned = new(ReferenceEqualityComparer.Instance);

        public void Pin(Tensor t) => _pinned.Add(t.Storage);

        public void Hold(Tensor t) => _pending[t.Storage] = _pending.GetValueOrDefault(t.Storage) + 1;

        public void Drop(Tensor t)
        {
            if (!_pending.TryGetValue(t.Storage, out int n)) return;
            if (n <= 1) _pending.Remove(t.Storage); else _pending[t.Storage] = n - 1;
        }

        public void ReleaseIfDead(Tensor t)
        {
            var s = t.Storage;
            if (s.Id <= createdAfter || s.IsReleased || _pinned.Contains(s) || _pending.ContainsKey(s)) return;
            s.Release();
        }
    }
}
