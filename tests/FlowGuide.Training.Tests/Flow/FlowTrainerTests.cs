using FlowGuide.Models.Flow;
using FlowGuide.Tensors;
using FlowGuide.Training.Flow;

namespace FlowGuide.Training.Tests.Flow;

public sealed class FlowTrainerTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("flowguide-train-flow-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private FlowTrainOptions Tiny(string dir, int steps, bool resume = false) => new()
    {
        OutDir = Path.Combine(_tmp, dir), Steps = steps, Batch = 2, Size = 16, WarmupSteps = 1, ValidateEvery = 2,
        CheckpointEvery = 2, ValidationPairs = 2, Config = RaftSmallConfig.Tiny, Resume = resume, LearningRate = 1e-3f,
    };

    [Fact]
    public void GeneratedFlowWarpsFrame2OntoFrame1()
    {
        var g = new ChairsGenerator(48, 48, 3);
        var s = g.Sample(0);
        Assert.Equal(g.Sample(0).Frame1.ToArray(), s.Frame1.ToArray()); // deterministic
        var warped = Ops.Warp(s.Frame2, s.Flow, GridPadding.Border);
        double err = 0, zero = 0;
        var a = s.Frame1.Span; var b = warped.Span; var c = s.Frame2.Span;
        for (int i = 0; i < a.Length; i++) { err += Math.Abs(a[i] - b[i]); zero += Math.Abs(a[i] - c[i]); }
        Assert.True(err < 0.5 * zero, $"warp error {err / a.Length} vs no-motion {zero / a.Length}");
    }

    [Fact]
    public void ResumeIsBitExact()
    {
        var straight = new FlowTrainer(Tiny("a", 4));
        straight.Run(_ => { });
        var first = new FlowTrainer(Tiny("b", 4) with { StopAfter = 2 });
        first.Run(_ => { });
        var resumed = new FlowTrainer(Tiny("b", 4, resume: true));
        resumed.Run(_ => { });
        var x = straight.Model.StateDict(); var y = resumed.Model.StateDict();
        foreach (var kv in x) Assert.Equal(kv.Value.ToArray(), y[kv.Key].ToArray());
        Assert.True(File.Exists(straight.WeightsPath));
        Assert.True(double.IsFinite(straight.Validate()));
    }

    [Fact]
    public void StepsOnAFixedBatchReduceTheLoss()
    {
        var t = new FlowTrainer(Tiny("c", 100) with { WarmupSteps = 0, WorldEvery = 0 });
        var batch = t.TrainBatch(1);
        double Loss()
        {
            using var _ = GradMode.NoGrad();
            return RaftSmall.SequenceLoss(t.Model.Forward(batch.Frame1, batch.Frame2), batch.Flow).Item();
        }
        double before = Loss();
        for (int i = 0; i < 3; i++) t.TrainStep(1 + 0 * i);
        Assert.True(Loss() < before, $"loss {Loss()} not below {before}");
    }
}
