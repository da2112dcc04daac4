namespace FlowGuide.Nn.Optim;

/// <summary>Learning-rate schedules as pure functions of the step (no hidden counter, so resuming needs only the step).</summary>
public static class LrSchedule
{
    /// <summary>
    /// Linear warm-up from 0 to <paramref name="baseLr"/> over <paramref name="warmupSteps"/>, then cosine decay to
    /// <paramref name="minLr"/> at <paramref name="totalSteps"/> (held there afterwards). <paramref name="step"/> counts from 1.
    /// </summary>
    public static float WarmupCosine(long step, float baseLr, long warmupSteps, long totalSteps, float minLr = 0f)
    {
        if (totalSteps <= 0 || warmupSteps < 0 || warmupSteps > totalSteps)
            throw new ArgumentException($"WarmupCosine: need 0 <= warmupSteps ({warmupSteps}) <= totalSteps ({totalSteps}) and totalSteps > 0.");
        if (step <= warmupSteps && warmupSteps > 0) return baseLr * step / warmupSteps;
        if (step >= totalSteps) return minLr;
        double progress = (double)(step - warmupSteps) / Math.Max(1, totalSteps - warmupSteps);
        return (float)(minLr + 0.5 * (baseLr - minLr) * (1 + Math.Cos(Math.PI * progress)));
    }
}

/// <summary>Gradient clipping.</summary>
public static class GradClip
{
    /// <summary>
    /// Scales all gradients so their global L2 norm is at most <paramref name="maxNorm"/>; returns the norm before clipping
    /// (as torch.nn.utils.clip_grad_norm_). Accumulates in double.
    /// </summary>
    public static double ClipGradNorm(IEnumerable<FlowGuide.Tensors.Tensor> parameters, double maxNorm)
    {
        if (!(maxNorm > 0)) throw new ArgumentException($"ClipGradNorm: maxNorm must be > 0, got {maxNorm}.");
        var grads = parameters.Select(p => p.Grad).Where(g => g is not null).Select(g => g!).ToList();
        double sq = 0;
        foreach (var g in grads)
            foreach (var v in g.Span) sq += (double)v * v;
        double norm = Math.Sqrt(sq);
        double coef = maxNorm / (norm + 1e-6);
        if (coef < 1)
            foreach (var g in grads)
            {
                var s = g.Span;
                for (int i = 0; i < s.Length; i++) s[i] = (float)(s[i] * coef);
            }
        return norm;
    }
}
