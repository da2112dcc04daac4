using FlowGuide.Tensors;
using FlowGuide.Tensors.Kernels;

namespace FlowGuide.Training.World;

public static partial class MotionWorld
{
    /// <summary>Samples per pixel along each axis (4 x 4 = 16 per pixel, on a regular grid, averaged with equal weights).</summary>
    public const int Supersampling = 4;

    /// <summary>
    /// Renders a clip: anti-aliased video, exact forward flow and occlusion for each frame pair, instance ids and
    /// per-shape tracks, and the caption. Bit-for-bit deterministic: only + - * /, IEEE square root and
    /// <see cref="DeterministicMath"/> touch the values, and every pixel is computed on its own (rows run in parallel).
    /// </summary>
    public static WorldClip Render(ClipSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        int f = spec.Frames, h = spec.Height, w = spec.Width, plane = h * w;
        var background = new BackgroundField(spec.Background, spec.Seed);
        var scenes = new FrameScene[f];
        for (int t = 0; t < f; t++) scenes[t] = new FrameScene(spec, background, t);

        var video = Tensor.Empty(3, f, h, w);
        var instances = Tensor.Empty(f, h, w);
        RenderFrames(scenes, video, instances, w, h);

        int pairs = Math.Max(f - 1, 0);
        var flow = Tensor.Empty(pairs, 2, h, w);
        var occlusion = Tensor.Empty(pairs, h, w);
        if (pairs > 0) ComputeFlow(spec, scenes, instances, flow, occlusion);

        return new WorldClip
        {
            Spec = spec,
            Caption = CaptionGrammar.Describe(spec),
            Video = video,
            Flow = flow,
            Occlusion = occlusion,
            Instances = instances,
            Tracks = BuildTracks(spec, scenes, instances),
        };
    }

    /// <summary>Colours (supersampled) and owners (at pixel centres) of every pixel of every frame, in parallel over rows.</summary>
    private static void RenderFrames(FrameScene[] scenes, Tensor video, Tensor instances, int w, int h)
    {
        int f = scenes.Length, plane = h * w, volume = f * plane;
        const int s = Supersampling;
        const double step = 1.0 / s, inv = 1.0 / (s * s);
        Parallelism.For(f * h, 4, (start, end) =>
        {
            var vd = video.Span;
            var ids = instances.Span;
            for (int row = start; row < end; row++)
            {
                int t = row / h, y = row % h;
                var scene = scenes[t];
                int offset = t * plane + y * w;
                for (int x = 0; x < w; x++)
                {
                    double r = 0, g = 0, b = 0;
                    if (scene.IsPlainPixel(x, y))
                    {
                        // the same sums as the general path, without the point queries: identical bits
                        var c = scene.PlainColor;
                        for (int k = 0; k < s * s; k++) { r += c.R; g += c.G; b += c.B; }
                    }
                    else
                    {
                        for (int sy = 0; sy < s; sy++)
                        {
                            double py = y + (sy + 0.5) * step;
                            for (int sx = 0; sx < s; sx++)
                            {
                                scene.ColorAt(x + (sx + 0.5) * step, py, out double cr, out double cg, out double cb);
                                r += cr; g += cg; b += cb;
                            }
                        }
                    }
                    vd[offset + x] = (float)(r * inv * 2 - 1);
                    vd[volume + offset + x] = (float)(g * inv * 2 - 1);
                    vd[2 * volume + offset + x] = (float)(b * inv * 2 - 1);
                    ids[offset + x] = scene.OwnerAt(x + 0.5, y + 0.5, out _) + 1;
                }
            }
        });
    }

    /// <summary>
    /// Forward flow from each pixel centre's owner: a shape point keeps its local coordinates, so its position at
    /// t + 1 is the t + 1 pose applied to them (translation, rotation and scaling about the centre, camera included);
    /// a background point is fixed in the world, so it moves by minus the camera step. Occluded where that position is
    /// outside the frame or owned by someone else at t + 1.
    /// </summary>
    private static void ComputeFlow(ClipSpec spec, FrameScene[] scenes, Tensor instances, Tensor flow, Tensor occlusion)
    {
        int pairs = scenes.Length - 1, h = spec.Height, w = spec.Width, plane = h * w;
        double height = h;
        Parallelism.For(pairs * h, 4, (start, end) =>
        {
            var ids = instances.Span;
            var fl = flow.Span;
            var occ = occlusion.Span;
            for (int row = start; row < end; row++)
            {
                int t = row / h, y = row % h;
                var now = scenes[t];
                var next = scenes[t + 1];
                var (camX0, camY0) = now.Camera;
                var (camX1, camY1) = next.Camera;
                double py = y + 0.5;
                for (int x = 0; x < w; x++)
                {
                    double px = x + 0.5;
                    int owner = (int)ids[t * plane + y * w + x] - 1;
                    double nx, ny;
                    if (owner < 0)
                    {
                        nx = px + (camX0 - camX1) * height;
                        ny = py + (camY0 - camY1) * height;
                    }
                    else
                    {
                        var (qx, qy) = now.Poses[owner].ToLocal(px, py);
                        (nx, ny) = next.Poses[owner].ToImage(qx, qy);
                    }
                    int o = t * 2 * plane + y * w + x;
                    fl[o] = (float)(nx - px);
                    fl[o + plane] = (float)(ny - py);
                    bool visible = nx >= 0 && nx <= w && ny >= 0 && ny <= h && next.OwnerAt(nx, ny, out _) == owner;
                    occ[t * plane + y * w + x] = visible ? 0f : 1f;
                }
            }
        });
    }

    private static ShapeTrack[] BuildTracks(ClipSpec spec, FrameScene[] scenes, Tensor instances)
    {
        int n = spec.Shapes.Count, f = scenes.Length, plane = spec.Height * spec.Width;
        var ids = instances.Span;
        var tracks = new ShapeTrack[n];
        for (int i = 0; i < n; i++)
        {
            var shape = spec.Shapes[i];
            var poses = new ShapePose[f];
            var area = new double[f];
            var visible = new int[f];
            float id = i + 1;
            for (int t = 0; t < f; t++)
            {
                poses[t] = scenes[t].Poses[i];
                area[t] = ShapeGeometry.UnitArea(shape.Kind) * poses[t].Radius * poses[t].Radius;
                var frameIds = ids.Slice(t * plane, plane);
                int count = 0;
                foreach (float v in frameIds) if (v == id) count++;
                visible[t] = count;
            }
            tracks[i] = new ShapeTrack
            {
                ShapeIndex = i, Kind = shape.Kind, Color = shape.Color, Rgb = shape.Color.ToRgb(),
                Poses = poses, Area = area, VisibleArea = visible,
            };
        }
        return tracks;
    }
}
