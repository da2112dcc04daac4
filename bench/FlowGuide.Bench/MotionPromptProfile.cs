using System.Diagnostics;
using FlowGuide.Guidance;
using FlowGuide.Models;
using FlowGuide.Models.Flow;
using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Bench;

/// <summary>
/// Where one MotionPrompt iteration's time and memory go on the shipped model: each piece of the objective (text
/// encoder, conditional transformer pass, partial decode, flow, discriminator) run forward and backward on its own
/// with a leaf input, plus the whole iteration, at the model's default size. CPU time (min over repeats) and the pool's
/// peak live bytes above the start, per piece.
/// </summary>
public static class MotionPromptProfile
{
    /// <param name="modelPath">Model folder (null: find models/flowguide-small); the discriminator sits beside it.</param>
    /// <param name="repeats">Timed repeats per piece (after three warm-up ones).</param>
    /// <param name="ops">Also print, per piece, the op-by-op forward and backward wall time of its last repeat (<see cref="OpProfile"/>).</param>
    public static IEnumerable<BenchResult> Run(string? modelPath, int repeats, bool ops = false)
    {
        var modelDir = PipelineCases.FindModel(modelPath);
        var model = ShippedModel.Load(modelDir);
        var disc = FlowDiscriminator.Load(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(modelDir).TrimEnd(Path.DirectorySeparatorChar))!, "motionprompt-discriminator"));
        disc.Freeze(); disc.Eval();
        var options = model.Defaults.ToOptions(seed: 0);
        var wan = model.Transformer;
        var text = model.TextEncoder;
        var decoder = model.Pipeline.Decoder;
        var rng = new Rng(1);
        var latent = Tensor.Randn(rng, model.Pipeline.LatentShape(options));                   // [1, C, F', H', W']
        var schedule = SigmaSchedule.Create(options.Steps, options.Shift);
        float timestep = (float)schedule.IntegerTimestep(2);
        double sigma = schedule.Sigmas[2];
        var ids = text.Tokenize(PipelineCases.DefaultPrompt);
        var promptTokens = text.Embed(ids);                                                    // [1, m, E]
        var t0 = Ops.Mean(text.Embed(text.Tokenize("the")), 1).Reshape(1, 1, text.EmbeddingDim);
        Tensor prompt;
        using (GradMode.NoGrad()) prompt = text.EncodeEmbeddings(Ops.Concat(new[] { promptTokens, t0 }, 1)); // [1, L, D]
        var flowOptions = MotionPromptHook.TrainingFlowOptions(disc) ?? ClassicalFlowOptions.Default;
        var flow = new ClassicalFlow(flowOptions with { CheckpointWarps = true });
        var plainFlow = new ClassicalFlow(flowOptions with { CheckpointWarps = false });
        var pairFrames = new[] { 4, 5 };                                                       // two latent frames, as most pairs
        Tensor x0;
        using (GradMode.NoGrad()) x0 = Ops.Sub(latent, Ops.MulScalar(wan.Forward(latent, Tensor.Full(timestep, 1), prompt), (float)sigma));
        Tensor frames;
        using (GradMode.NoGrad()) frames = VideoFrameDecoding.DecodeFrames(decoder, x0, pairFrames, false); // [1, 3, 2, H, W]
        int h = frames.Size(3), w = frames.Size(4);
        var f1 = frames.Narrow(2, 0, 1).Reshape(1, 3, h, w).Clone();
        var f2 = frames.Narrow(2, 1, 1).Reshape(1, 3, h, w).Clone();
        Tensor flowValue;
        using (GradMode.NoGrad()) flowValue = flow.Estimate(f1, f2);                           // [1, 2, H, W]

        Tensor Probe(Tensor y) => Ops.Sum(Ops.Mul(y, Tensor.Randn(new Rng(9), y.Shape.ToArray()))); // a scalar that depends on every output

        var pieces = new List<(string Name, Func<Tensor> Leaf, Func<Tensor, Tensor> Forward)>
        {
            ("text encoder", () => t0, t => text.EncodeEmbeddings(Ops.Concat(new[] { promptTokens, t }, 1))),
            ("transformer cond, no-grad", () => prompt, p => { using (GradMode.NoGrad()) return wan.Forward(latent, Tensor.Full(timestep, 1), p); }),
            ("transformer uncond+cond batch 2, no-grad", () => prompt, p => { using (GradMode.NoGrad()) return wan.Forward(Ops.Concat(new[] { latent, latent }, 0), Tensor.Full(timestep, 2), Ops.Concat(new[] { p, p }, 0)); }),
            ("transformer cond ckpt0", () => prompt, p => { wan.CheckpointBlocks = 0; return wan.Forward(latent, Tensor.Full(timestep, 1), p); }),
            ("transformer cond ckpt3", () => prompt, p => { wan.CheckpointBlocks = 3; return wan.Forward(latent, Tensor.Full(timestep, 1), p); }),
            ("transformer cond ckptall", () => prompt, p => { wan.CheckpointBlocks = int.MaxValue; return wan.Forward(latent, Tensor.Full(timestep, 1), p); }),
            ("decode pair", () => x0, z => VideoFrameDecoding.DecodeFrames(decoder, z, pairFrames, false)),
            ("decode all, no-grad", () => x0, z => { using (GradMode.NoGrad()) return decoder.Decode(z); }),
            ("decode pair in one latent frame", () => x0, z => VideoFrameDecoding.DecodeFrames(decoder, z, new[] { 2, 3 }, false)),
            ("flow (ckpt warps)", () => f1, a => flow.Estimate(a, f2)),
            ("flow (no ckpt)", () => f1, a => plainFlow.Estimate(a, f2)),
            ("discriminator", () => flowValue, f => disc.Forward(f)),
        };
        foreach (var (name, leaf, forward) in pieces)
        {
            double fwdMin = double.PositiveInfinity, bwdMin = double.PositiveInfinity, fwdWall = double.PositiveInfinity, bwdWall = double.PositiveInfinity;
            long peak = 0, fwdPeak = 0;
            for (int r = 0; r < repeats + 3; r++)
            {
                GC.Collect();
                using var scope = new TensorScope();
                BufferPool.ResetPeak();
                long start = BufferPool.LiveBytes;
                var x = leaf().DetachedLeaf();
                bool profileOps = ops && r == repeats + 2;
                if (profileOps) OpProfile.Start();
                var c0 = Cpu();
                long w0 = Stopwatch.GetTimestamp();
                Tensor y;
                using (GradMode.EnableGrad()) y = Probe(forward(x));
                var c1 = Cpu();
                long w1 = Stopwatch.GetTimestamp();
                fwdPeak = Math.Max(fwdPeak, BufferPool.PeakLiveBytes - start);
                if (y.RequiresGrad) Autograd.Grad(y, new[] { x });
                var c2 = Cpu();
                long w2 = Stopwatch.GetTimestamp();
                if (profileOps) PrintOps(name, OpProfile.Stop());
                if (r < 3) continue; // warm-up (JIT tiering)
                fwdWall = Math.Min(fwdWall, Stopwatch.GetElapsedTime(w0, w1).TotalMilliseconds);
                bwdWall = Math.Min(bwdWall, Stopwatch.GetElapsedTime(w1, w2).TotalMilliseconds);
                fwdMin = Math.Min(fwdMin, c1 - c0);
                bwdMin = Math.Min(bwdMin, c2 - c1);
                peak = Math.Max(peak, BufferPool.PeakLiveBytes - start);
            }
            wan.CheckpointBlocks = 0;
            yield return new BenchResult($"mp-profile {name}", "flowguide", fwdMin + bwdMin, fwdMin + bwdMin, repeats, null, peak,
                $"(CPU ms: forward {fwdMin:F1}, backward {bwdMin:F1}; wall ms: forward {fwdWall:F1}, backward {bwdWall:F1}; peak after forward {fwdPeak / 1048576.0:F1} MiB)");
        }
    }

    private static void PrintOps(string piece, IReadOnlyList<(string Op, OpProfile.Entry Time)> table)
    {
        Console.WriteLine($"  ops of {piece} (wall ms, forward / backward, calls):");
        foreach (var (op, t) in table.Take(14))
            Console.WriteLine($"    {op,-28} {t.ForwardMs,8:F2} / {t.BackwardMs,8:F2}   ({t.ForwardCalls} / {t.BackwardCalls})");
    }

    private static double Cpu() => Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds;
}
