using FlowGuide.Tensors;

namespace FlowGuide.Sampling;

/// <summary>
/// The first-order flow-matching step <c>x_{i+1} = x_i + (sigma_{i+1} - sigma_i) * v</c>: stateless, one model call per
/// step, exact when the velocity is constant along the path. Differentiable in <c>x</c> and <c>v</c>.
/// </summary>
public static class FlowMatchEuler
{
    /// <summary>Advances <paramref name="sample"/> from <c>schedule.Sigmas[step]</c> to <c>schedule.Sigmas[step + 1]</c> with velocity <paramref name="velocity"/>.</summary>
    public static Tensor Step(Tensor sample, Tensor velocity, SigmaSchedule schedule, int step)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(velocity);
        ArgumentNullException.ThrowIfNull(schedule);
        schedule.CheckStep(step, "FlowMatchEuler.Step");
        if (sample.Shape != velocity.Shape)
            throw new ArgumentException($"FlowMatchEuler.Step: velocity {velocity.Shape} must have the sample's shape {sample.Shape}.");
        double dt = schedule.Sigmas[step + 1] - schedule.Sigmas[step];
        return Ops.Add(sample, Ops.MulScalar(velocity, (float)dt));
    }

    /// <summary>The predicted clean sample <c>x - sigma * v</c> at <paramref name="step"/> (the Tweedie estimate for flow matching).</summary>
    public static Tensor PredictX0(Tensor sample, Tensor velocity, SigmaSchedule schedule, int step)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        double sigma = schedule.Sigma(step);
        return Ops.Sub(sample, Ops.MulScalar(velocity, (float)sigma));
    }
}
