namespace FlowGuide.Tensors;

/// <summary>
/// Gradient checkpointing: run a segment without recording, keep only its inputs, and recompute the segment's forward
/// during backward. Differentiating N checkpointed blocks then holds one block's activations at a time.
/// </summary>
public static class Checkpoint
{
    /// <summary>
    /// Runs <paramref name="segment"/> on <paramref name="inputs"/> and records a single node that recomputes it on backward.
    /// Anything the segment should differentiate must be passed in <paramref name="inputs"/> (activations, embeddings)
    /// or <paramref name="parameters"/> (weights: their gradients go to <see cref="Tensor.Grad"/> in
    /// <see cref="Autograd.Backward"/>, or to the caller of <see cref="Autograd.Grad"/> when asked for); tensors the
    /// segment merely captures are treated as constants. The segment must be deterministic.
    /// </summary>
    public static Tensor Run(Func<Tensor[], Tensor> segment, Tensor[] inputs, IReadOnlyList<Tensor>? parameters = null)
    {
        Tensor output;
        using (GradMode.NoGrad())
        using (var scope = new TensorScope()) // the segment's intermediates go back to the pool now, not at the caller's scope end
            output = scope.Keep(segment(inputs));
        var ps = parameters?.ToArray() ?? System.Array.Empty<Tensor>();
        var all = inputs.Concat(ps).ToArray();
        int nIn = inputs.Length;
        var result = output.Detach();
        return Autograd.Record(result, "Checkpoint", (g, need) =>
        {
            var outer = Autograd.Current ?? throw new InvalidOperationException("Checkpoint: backward called outside a backward pass.");
            var detached = new Tensor[nIn];
            for (int i = 0; i < nIn; i++)
            {
                detached[i] = inputs[i].Detach();
                detached[i].RequiresGrad = need[i];
            }
            var grads = new Tensor?[all.Length];
            var local = new HashSet<Tensor>(detached.Where((_, i) => need[i]), ReferenceEqualityComparer.Instance);
            var collected = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance);
            var toOuter = new List<(Tensor Target, Tensor Grad)>();
            // The recomputed activations and the segment's inner gradients live in this scope and go back to the pool
            // when it closes; only the gradients handed out are kept (delivered to the outer sink after it closes, so
            // whatever the sink allocates belongs to the caller).
            using (var scope = new TensorScope())
            {
                Tensor recomputed;
                using (GradMode.EnableGrad()) recomputed = segment(detached);
                if (!recomputed.RequiresGrad) return grads;
                var ctx = new Autograd.PassContext
                {
                    IsTarget = t => local.Contains(t) || outer.IsTarget(t),
                    OnTargetGrad = (t, gt) =>
                    {
                        if (local.Contains(t)) collected[t] = gt;
                        else toOuter.Add((t, gt)); // parameters: to the outer pass's sink, below
                    },
                };
                Autograd.Run(new[] { recomputed }, new[] { g }, ctx, retainGraph: false);
                foreach (var gt in collected.Values) scope.Keep(gt);
                foreach (var (_, gt) in toOuter) scope.Keep(gt);
            }
            foreach (var (t, gt) in toOuter) outer.OnTargetGrad(t, gt);
            for (int i = 0; i < nIn; i++)
                if (collected.TryGetValue(detached[i], out var gi)) grads[i] = gi;
            return grads; // parameter slots stay null: their gradients were delivered above
        }, all);
    }
}
