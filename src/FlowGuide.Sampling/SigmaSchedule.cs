using System.Collections.Immutable;

namespace FlowGuide.Sampling;

/// <summary>
/// The noise levels of a flow-matching sampling run: <see cref="Sigmas"/> has N + 1 decreasing values, the last 0, and
/// step i goes from <c>Sigmas[i]</c> to <c>Sigmas[i + 1]</c>; <see cref="Timesteps"/> are <c>Sigmas[i] * 1000</c> for
/// the N model calls. Immutable and computed in double; the steppers (<see cref="FlowMatchEuler"/>, <see cref="UniPc"/>)
/// are pure functions of this table, so the same table drives Euler, UniPC and every guidance window.
/// </summary>
public sealed record SigmaSchedule
{
    /// <summary>Timestep scale: timestep = sigma * 1000, as in Wan and diffusers (num_train_timesteps).</summary>
    public const double TrainTimesteps = 1000.0;

    /// <summary>
    /// Highest unshifted sigma in Wan2.1's and diffusers' flow UniPC schedule: <c>1 - 1/1000</c> (their table is built as
    /// <c>1 - linspace(1, 1/1000, N + 1)</c>, flipped, so it starts at 0.999 and ends at 0, not at 1 and 1/1000).
    /// </summary>
    public const double WanSigmaMax = 1.0 - 1.0 / TrainTimesteps;

    private SigmaSchedule(ImmutableArray<double> sigmas, double shift)
    {
        Sigmas = sigmas;
        Shift = shift;
        var ts = ImmutableArray.CreateBuilder<double>(sigmas.Length - 1);
        for (int i = 0; i < sigmas.Length - 1; i++) ts.Add(sigmas[i] * TrainTimesteps);
        Timesteps = ts.MoveToImmutable();
    }

    /// <summary>N + 1 noise levels, strictly decreasing, in [0, 1], ending at 0.</summary>
    public ImmutableArray<double> Sigmas { get; }

    /// <summary>N timesteps, <c>Sigmas[i] * 1000</c> (not rounded; see <see cref="IntegerTimestep"/>).</summary>
    public ImmutableArray<double> Timesteps { get; }

    /// <summary>The flow shift the table was built with (1 for tables given explicitly).</summary>
    public double Shift { get; }

    /// <summary>Number of sampling steps N (model calls without guidance or CFG).</summary>
    public int Steps => Timesteps.Length;

    /// <summary>
    /// The timestep truncated to an integer, as diffusers' UniPC scheduler and Wan's own sampler hand it to the model
    /// (they cast <c>sigma * 1000</c> to int64). Use it to match their outputs exactly.
    /// </summary>
    public double IntegerTimestep(int step) => Math.Floor(Timesteps[CheckStep(step, nameof(IntegerTimestep))]);

    /// <summary>Noise level at the start of <paramref name="step"/>.</summary>
    public double Sigma(int step) => Sigmas[CheckStep(step, nameof(Sigma))];

    /// <summary>Noise level at the end of <paramref name="step"/> (0 after the last step).</summary>
    public double NextSigma(int step) => Sigmas[CheckStep(step, nameof(NextSigma)) + 1];

    /// <summary>
    /// Wan2.1 / diffusers flow schedule: <c>sigma = linspace(sigmaMax, sigmaMin, N + 1)[:-1]</c>, shifted
    /// <c>s * sigma / (1 + (s - 1) * sigma)</c>, then 0 appended. The defaults reproduce diffusers'
    /// UniPCMultistepScheduler(use_flow_sigmas, flow_shift = s) and Wan's FlowUniPCMultistepScheduler; pass
    /// <c>sigmaMax: 1, sigmaMin: 1.0 / 1000</c> for the variant <c>linspace(1, 1/1000, N + 1)[:-1]</c> that starts at pure noise.
    /// </summary>
    /// <param name="steps">Number of sampling steps N (at least 1).</param>
    /// <param name="shift">Flow shift s &gt; 0 (Wan: 3 at 480p, 5 at 720p); larger values spend more steps at high noise.</param>
    /// <param name="sigmaMax">First unshifted sigma, in (0, 1].</param>
    /// <param name="sigmaMin">Unshifted sigma that linspace ends at (dropped), in [0, sigmaMax).</param>
    public static SigmaSchedule Create(int steps, double shift, double sigmaMax = WanSigmaMax, double sigmaMin = 0.0)
    {
        if (steps < 1) throw new ArgumentException($"SigmaSchedule.Create: steps must be at least 1, got {steps}.", nameof(steps));
        if (!(shift > 0) || double.IsInfinity(shift)) throw new ArgumentException($"SigmaSchedule.Create: shift must be a positive finite number, got {shift}.", nameof(shift));
        if (!(sigmaMax > 0 && sigmaMax <= 1)) throw new ArgumentException($"SigmaSchedule.Create: sigmaMax must be in (0, 1], got {sigmaMax}.", nameof(sigmaMax));
        if (!(sigmaMin >= 0 && sigmaMin < sigmaMax)) throw new ArgumentException($"SigmaSchedule.Create: sigmaMin must be in [0, sigmaMax = {sigmaMax}), got {sigmaMin}.", nameof(sigmaMin));

        var b = ImmutableArray.CreateBuilder<double>(steps + 1);
        double delta = (sigmaMin - sigmaMax) / steps; // numpy linspace: start + i * (stop - start) / (num - 1), num = steps + 1
        for (int i = 0; i < steps; i++)
        {
            double s = sigmaMax + i * delta;
            b.Add(shift * s / (1 + (shift - 1) * s));
        }
        b.Add(0.0);
        return new SigmaSchedule(b.MoveToImmutable(), shift);
    }

    /// <summary>
    /// A schedule from explicit noise levels (e.g. a truncated table for partial denoising). <paramref name="sigmas"/>
    /// must be strictly decreasing within [0, 1] and end at 0; it holds N + 1 values for N steps.
    /// </summary>
    public static SigmaSchedule FromSigmas(IEnumerable<double> sigmas)
    {
        ArgumentNullException.ThrowIfNull(sigmas);
        var a = sigmas.ToImmutableArray();
        if (a.Length < 2) throw new ArgumentException($"SigmaSchedule.FromSigmas: need at least 2 values (N + 1 for N steps), got {a.Length}.", nameof(sigmas));
        if (a[^1] != 0) throw new ArgumentException($"SigmaSchedule.FromSigmas: the last sigma must be 0, got {a[^1]}.", nameof(sigmas));
        for (int i = 0; i < a.Length; i++)
        {
            if (!(a[i] >= 0 && a[i] <= 1)) throw new ArgumentException($"SigmaSchedule.FromSigmas: sigma[{i}] = {a[i]} is outside [0, 1].", nameof(sigmas));
            if (i > 0 && !(a[i] < a[i - 1])) throw new ArgumentException($"SigmaSchedule.FromSigmas: sigmas must strictly decrease, but sigma[{i}] = {a[i]} >= sigma[{i - 1}] = {a[i - 1]}.", nameof(sigmas));
        }
        return new SigmaSchedule(a, 1.0);
    }

    /// <summary>
    /// The step indices [start, end) covered by a window given as fractions of the run (e.g. 0 to 0.24 = the first 12
    /// of 50 steps), rounding to the nearest step so a window scales with the step count.
    /// </summary>
    public (int Start, int End) WindowFromFractions(double startFraction, double endFraction)
    {
        if (!(startFraction >= 0 && startFraction <= endFraction && endFraction <= 1))
            throw new ArgumentException($"SigmaSchedule.WindowFromFractions: need 0 <= start <= end <= 1, got start {startFraction}, end {endFraction}.");
        return ((int)Math.Round(startFraction * Steps, MidpointRounding.AwayFromZero), (int)Math.Round(endFraction * Steps, MidpointRounding.AwayFromZero));
    }

    internal int CheckStep(int step, string op)
    {
        if ((uint)step >= (uint)Steps) throw new ArgumentOutOfRangeException(nameof(step), $"SigmaSchedule.{op}: step {step} is outside [0, {Steps}).");
        return step;
    }

    /// <summary>Value equality over the sigma table and shift (the generated record equality would compare array references).</summary>
    public bool Equals(SigmaSchedule? other) =>
        other is not null && Shift.Equals(other.Shift) && Sigmas.AsSpan().SequenceEqual(other.Sigmas.AsSpan());

    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Shift);
        foreach (var s in Sigmas) h.Add(s);
        return h.ToHashCode();
    }

    public override string ToString() => $"SigmaSchedule(steps {Steps}, shift {Shift}, sigma {Sigmas[0]:G6} -> 0)";
}
