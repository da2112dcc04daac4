using System.Diagnostics;
using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Bench;

/// <summary>Wraps a hook and adds up the wall time of its calls (to split a guided generation into hook and loop time).</summary>
public sealed class TimedHook(IGuidanceHook inner) : IGuidanceHook
{
    public double BeforeModelMs { get; private set; }
    public int Calls { get; private set; }
    public StepWindow Window => inner.Window;

    public LatentUpdate? BeforeModel(StepContext context)
    {
        long t = Stopwatch.GetTimestamp();
        try { return inner.BeforeModel(context); }
        finally { BeforeModelMs += Stopwatch.GetElapsedTime(t).TotalMilliseconds; Calls++; }
    }

    public Tensor? AfterPrediction(StepContext context, Tensor velocity, Tensor predictedX0) => inner.AfterPrediction(context, velocity, predictedX0);
    public Tensor? AfterStep(StepContext context, Tensor newLatent) => inner.AfterStep(context, newLatent);
}
