using FlowGuide.Tensors;

namespace FlowGuide.Sampling;

/// <summary>
/// What <see cref="UniPc.Step"/> carries from one step to the next. The sampling loop owns it and passes it back in:
/// no scheduler object counts steps behind the caller's back. Start from <see cref="Initial"/>.
/// </summary>
public sealed record UniPcState
{
    /// <summary>The state before step 0.</summary>
    public static UniPcState Initial { get; } = new();

    /// <summary>The step index the next call must be for (a mismatch is a caller bug and throws).</summary>
    public int NextStep { get; init; }

    /// <summary>The (corrected) sample the last predictor started from, at <c>sigma[NextStep - 1]</c>; the corrector's base.</summary>
    public Tensor? LastSample { get; init; }

    /// <summary>Clean-sample prediction x0 from the last step's model output (at <c>sigma[NextStep - 1]</c>).</summary>
    public Tensor? PreviousX0 { get; init; }

    /// <summary>x0 prediction from the step before that (at <c>sigma[NextStep - 2]</c>), or null.</summary>
    public Tensor? OlderX0 { get; init; }

    /// <summary>Order the last predictor used; the next corrector uses the same order (diffusers' <c>this_order</c>).</summary>
    public int LastOrder { get; init; }

    /// <summary>Model outputs seen so far, capped at the solver order (diffusers' <c>lower_order_nums</c>, the warm-up counter).</summary>
    public int Warmup { get; init; }

    /// <summary>The tensors this state holds (for callers that manage memory scopes).</summary>
    public IEnumerable<Tensor> Tensors()
    {
        if (LastSample is not null) yield return LastSample;
        if (PreviousX0 is not null) yield return PreviousX0;
        if (OlderX0 is not null) yield return OlderX0;
    }

    /// <summary>The same state with every tensor replaced by <paramref name="map"/>(tensor) (e.g. a copy that outlives a scope).</summary>
    public UniPcState MapTensors(Func<Tensor, Tensor> map) => this with
    {
        LastSample = LastSample is null ? null : map(LastSample),
        PreviousX0 = PreviousX0 is null ? null : map(PreviousX0),
        OlderX0 = OlderX0 is null ? null : map(OlderX0),
    };
}

/// <summary>
/// UniPC multistep sampler (Zhao et al. 2023) in the configuration Wan2.1 and diffusers use for flow matching: solver
/// order 2, B(h) = expm1(h) ("bh2"), data prediction (<c>x0 = x - sigma * v</c>), lower-order final step, final sigma 0.
/// With flow sigmas the noise schedule is <c>alpha = 1 - sigma</c>, and the solver works in
/// <c>lambda = log(alpha) - log(sigma)</c>.
/// </summary>
/// <remarks>
/// Each step first corrects the current sample with UniC (using the new model output; skipped at step 0), then
/// predicts the next sample with UniP. Order 1 is used at step 0 (warm-up) and at the last step (which lands on
/// sigma = 0, where the update reduces to returning x0); order 2 in between. Coefficients are computed in double.
/// All tensor arithmetic goes through differentiable ops.
/// </remarks>
public static class UniPc
{
    /// <summary>The solver order (2, as Wan and diffusers use it).</summary>
    public const int SolverOrder = 2;

    /// <summary>
    /// One UniPC step from <c>sigma[step]</c> to <c>sigma[step + 1]</c>. <paramref name="sample"/> is the latent the model
    /// saw, <paramref name="velocity"/> the model's (guided) velocity at it, <paramref name="state"/> what the previous
    /// call returned (or <see cref="UniPcState.Initial"/> at step 0). Returns the next sample and the state for step + 1.
    /// </summary>
    public static (Tensor Next, UniPcState State) Step(Tensor sample, Tensor velocity, SigmaSchedule schedule, int step, UniPcState state)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(velocity);
        ArgumentNullException.ThrowIfNull(schedule);
        ArgumentNullException.ThrowIfNull(state);
        schedule.CheckStep(step, "UniPc.Step");
        if (state.NextStep != step)
            throw new ArgumentException($"UniPc.Step: the state is for step {state.NextStep} but step {step} was asked; pass the state returned by the previous step (UniPcState.Initial at step 0).", nameof(state));
        if (sample.Shape != velocity.Shape)
            throw new ArgumentException($"UniPc.Step: velocity {velocity.Shape} must have the sample's shape {sample.Shape}.");
        if (state.PreviousX0 is { } p && p.Shape != sample.Shape)
            throw new ArgumentException($"UniPc.Step: sample {sample.Shape} does not match the previous step's shape {p.Shape}.");

        var sigmas = schedule.Sigmas;
        // 1. convert the model output to a data prediction
        var x0 = Ops.Sub(sample, Ops.MulScalar(velocity, (float)sigmas[step]));

        // 2. UniC: correct the sample the model just saw, using its output
        var x = sample;
        if (step > 0 && state.LastSample is not null && state.PreviousX0 is not null)
            x = Correct(sigmas, step, state.LastSample, state.PreviousX0, state.OlderX0, x0, state.LastOrder);

        // 3. order for this predictor: warm-up, and first order for the final step (diffusers' lower_order_final)
        int order = Math.Min(SolverOrder, schedule.Steps - step);
        order = Math.Min(order, state.Warmup + 1);

        // 4. UniP: predict the sample at sigma[step + 1]
        var next = Predict(sigmas, step, x, x0, state.PreviousX0, order);

        var newState = new UniPcState
        {
            NextStep = step + 1,
            LastSample = x,
            PreviousX0 = x0,
            OlderX0 = state.PreviousX0,
            LastOrder = order,
            Warmup = Math.Min(state.Warmup + 1, SolverOrder),
        };
        return (next, newState);
    }

    /// <summary>lambda = log(alpha) - log(sigma) with alpha = 1 - sigma: +inf at sigma 0, -inf at sigma 1.</summary>
    internal static double Lambda(double sigma) => Math.Log(1 - sigma) - Math.Log(sigma);

    /// <summary>e^x - 1, accurate for small |x| (Kahan's trick), -1 at -inf.</summary>
    internal static double ExpM1(double x)
    {
        if (double.IsPositiveInfinity(x)) return x;
        double u = Math.Exp(x);
        if (u == 1.0) return x;
        double um1 = u - 1.0;
        if (um1 == -1.0) return -1.0;
        return um1 * x / Math.Log(u);
    }

    /// <summary>
    /// UniP-p (B(h) variant) from s0 = sigma[i] to t = sigma[i + 1]:
    /// <c>x_t = (sigma_t / sigma_s0) x - alpha_t (e^{-h} - 1) m0 - alpha_t B(h) * 0.5 * D1</c> with
    /// <c>D1 = (m1 - m0) / r1</c>, <c>r1 = (lambda_{i-1} - lambda_i) / h</c> for order 2.
    /// </summary>
    private static Tensor Predict(IReadOnlyList<double> sigmas, int i, Tensor x, Tensor m0, Tensor? m1, int order)
    {
        double sT = sigmas[i + 1], sS0 = sigmas[i];
        double aT = 1 - sT;
        double h = Lambda(sT) - Lambda(sS0);
        double hh = -h;                 // data prediction integrates in -h
        double hPhi1 = ExpM1(hh);
        double bh = hPhi1;              // bh2: B(h) = expm1(-h)

        double cx = sT / sS0;
        double c0 = -aT * hPhi1;
        double c1 = 0;
        if (order == 2)
        {
            if (m1 is null) throw new InvalidOperationException("UniPc: order 2 needs the previous x0 prediction.");
            double r1 = (Lambda(sigmas[i - 1]) - Lambda(sS0)) / h;
            // diffusers uses rho_p = 0.5 for order 2: x_t -= alpha_t * B(h) * 0.5 * (m1 - m0) / r1
            double k = -aT * bh * 0.5 / r1;
            c1 += k;
            c0 -= k;
        }
        return Combine((cx, x), (c0, m0), (c1, m1));
    }

    /// <summary>
    /// UniC-p (B(h) variant) at t = sigma[i] from s0 = sigma[i - 1]: re-does the last predictor with the new model output
    /// <paramref name="mT"/>: <c>x_t = (sigma_t / sigma_s0) x_last - alpha_t (e^{-h} - 1) m0 - alpha_t B(h) (rho_1 D1 + rho_t (mT - m0))</c>,
    /// where the rhos solve the order conditions <c>R rho = b</c> (order 1: rho_t = 0.5).
    /// </summary>
    private static Tensor Correct(IReadOnlyList<double> sigmas, int i, Tensor xLast, Tensor m0, Tensor? m1, Tensor mT, int order)
    {
        double sT = sigmas[i], sS0 = sigmas[i - 1];
        double aT = 1 - sT;
        double h = Lambda(sT) - Lambda(sS0);
        double hh = -h;
        double hPhi1 = ExpM1(hh);
        double bh = hPhi1;

        double cx = sT / sS0;
        double c0 = -aT * hPhi1;
        double c1 = 0, cT;
        if (order == 2 && m1 is not null)
        {
            double rk = (Lambda(sigmas[i - 2]) - Lambda(sS0)) / h;
            // b_k = h_phi_k * k! / B(h), h_phi_1 = hPhi1 / hh - 1, h_phi_2 = h_phi_1 / hh - 1/2
            double hPhiK1 = hPhi1 / hh - 1;
            double hPhiK2 = hPhiK1 / hh - 0.5;
            double b1 = hPhiK1 / bh;
            double b2 = hPhiK2 * 2 / bh;
            // R = [[1, 1], [rk, 1]]: rho_1 + rho_t = b1, rk rho_1 + rho_t = b2
            double rho1 = (b1 - b2) / (1 - rk);
            double rhoT = b1 - rho1;
            double k1 = -aT * bh * rho1 / rk;   // coefficient of (m1 - m0)
            double kT = -aT * bh * rhoT;        // coefficient of (mT - m0)
            c1 = k1;
            cT = kT;
            c0 -= k1 + kT;
        }
        else
        {
            double kT = -aT * bh * 0.5;
            cT = kT;
            c0 -= kT;
        }
        return Combine((cx, xLast), (c0, m0), (c1, m1), (cT, mT));
    }

    /// <summary>Sum of coefficient * tensor over the terms with a non-zero coefficient.</summary>
    private static Tensor Combine(params (double Coef, Tensor? T)[] terms)
    {
        Tensor? acc = null;
        foreach (var (c, t) in terms)
        {
            if (c == 0 || t is null) continue;
            if (!double.IsFinite(c)) throw new InvalidOperationException($"UniPc: non-finite coefficient {c} (is the sigma table valid?).");
            var term = Ops.MulScalar(t, (float)c); // always a new tensor: the result never aliases an input
            acc = acc is null ? term : Ops.Add(acc, term);
        }
        return acc ?? throw new InvalidOperationException("UniPc: all coefficients vanished.");
    }
}
