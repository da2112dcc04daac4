using FlowGuide.Tensors;
using FlowGuide.Training.World;

namespace FlowGuide.Training;

/// <summary>
/// The ground-truth side of <see cref="FlowLoss"/> for motion-world clips, by clip index and split: the world's exact
/// flow or the estimator's flow of the rendered clip (<see cref="FlowLossOptions.Target"/>), with the world's occlusion
/// masks or a forward-backward check (<see cref="FlowLossOptions.Occlusion"/>). Targets depend only on the clip, so
/// they are cached by clip seed as plain arrays (first in, first out beyond <see cref="Capacity"/> clips); a cycled clip
/// pool then renders and estimates each target once.
/// </summary>
public sealed class WorldFlowTargets
{
    private readonly FlowLoss _loss;
    private readonly int _frames, _width, _height;
    private readonly Dictionary<long, (float[] Flow, float[] Occlusion)> _cache = new();
    private readonly Queue<long> _order = new();

    /// <param name="loss">Supplies the target and occlusion settings and, for estimated targets, the estimator.</param>
    /// <param name="frames">Clip length (as the trainer renders it).</param>
    /// <param name="width">Clip width in pixels.</param>
    /// <param name="height">Clip height in pixels.</param>
    /// <param name="capacity">Clips kept in memory (each holds 3 (F-1) H W floats).</param>
    public WorldFlowTargets(FlowLoss loss, int frames, int width, int height, int capacity = 512)
    {
        ArgumentNullException.ThrowIfNull(loss);
        if (frames < 2 || width < 2 || height < 2)
            throw new ArgumentException($"WorldFlowTargets: clips of {frames} frames of {height}x{width} have no flow; need at least 2 frames of 2x2.");
        if (capacity < 0) throw new ArgumentException($"WorldFlowTargets: capacity must be >= 0, got {capacity}.");
        _loss = loss;
        (_frames, _width, _height) = (frames, width, height);
        Capacity = capacity;
    }

    /// <summary>How many clips' targets are kept.</summary>
    public int Capacity { get; }

    /// <summary>Targets computed (cache misses) so far.</summary>
    public long Computed { get; private set; }

    /// <summary>Targets of clips <paramref name="indices"/> of <paramref name="split"/>, stacked: flow [B, F-1, 2, H, W], occlusion [B, F-1, H, W].</summary>
    public FlowTarget Get(IReadOnlyList<long> indices, WorldSplit split)
    {
        ArgumentNullException.ThrowIfNull(indices);
        if (indices.Count == 0) throw new ArgumentException("WorldFlowTargets.Get: no clip indices given.", nameof(indices));
        int pairs = _frames - 1, plane = _height * _width;
        var flow = Tensor.Empty(indices.Count, pairs, 2, _height, _width);
        var occ = Tensor.Empty(indices.Count, pairs, _height, _width);
        for (int b = 0; b < indices.Count; b++)
        {
            var (f, o) = Lookup(indices[b], split);
            f.CopyTo(flow.Span.Slice(b * pairs * 2 * plane, pairs * 2 * plane));
            o.CopyTo(occ.Span.Slice(b * pairs * plane, pairs * plane));
        }
        return new FlowTarget(flow, occ);
    }

    private (float[] Flow, float[] Occlusion) Lookup(long index, WorldSplit split)
    {
        long seed = MotionWorld.SeedOf(index, split);
        if (_cache.TryGetValue(seed, out var hit)) return hit;
        (float[], float[]) entry;
        using (GradMode.NoGrad())
        using (var scope = new TensorScope())
        {
            var clip = MotionWorld.Generate(index, split, _frames, _width, _height);
            var o = _loss.Options;
            if (o.Target == FlowTargetSource.World) entry = (clip.Flow.ToArray(), clip.Occlusion.ToArray());
            else
            {
                var video = clip.Video.Reshape(1, 3, _frames, _height, _width);                  // [1, 3, F, H, W]
                var worldOcc = o.Occlusion == OcclusionSource.World ? clip.Occlusion.Reshape(1, _frames - 1, _height, _width) : null;
                var t = _loss.EstimateTarget(video, worldOcc);
                entry = (t.Flow.ToArray(), t.Occlusion.ToArray());
            }
        }
        Computed++;
        if (Capacity > 0)
        {
            if (_cache.Count >= Capacity) _cache.Remove(_order.Dequeue());
            _cache[seed] = entry;
            _order.Enqueue(seed);
        }
        return entry;
    }
}
