using FlowGuide.Tensors;
using FlowGuide.Tensors.Kernels;

namespace FlowGuide.Cli;

/// <summary><c>flowguide info</c>: the engine's configuration on this machine (threads, GEMM backend, SIMD width, ffmpeg).</summary>
public sealed class InfoCommand : Command
{
    public override string Name => "info";
    public override string Summary => "show threads, GEMM backend, SIMD width and ffmpeg availability";
    public override string Usage => "flowguide info\n\nPrints how the engine will run here. Settings: FLOWGUIDE_THREADS, FLOWGUIDE_BLAS=managed|blas, FLOWGUIDE_BLAS_LIB.";

    public override int Run(Args args, TextWriter output, CancellationToken cancel)
    {
        args.EnsureAllUsed(0);
        output.WriteLine($"threads      {Parallelism.NumThreads} of {Environment.ProcessorCount} cores");
        output.WriteLine($"gemm         {Gemm.Backend}");
        output.WriteLine($"simd         Vector512 {System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}, Vector256 {System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated}");
        output.WriteLine($"ffmpeg       {(FlowGuide.Media.Ffmpeg.IsAvailable ? "available" : "not found (mp4 and jpeg need it)")}");
        output.WriteLine($".NET         {Environment.Version}");
        return 0;
    }
}
