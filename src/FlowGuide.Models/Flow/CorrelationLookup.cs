using FlowGuide.Tensors;

namespace FlowGuide.Models.Flow;

/// <summary>
/// RAFT's correlation look-up over a pyramid from <see cref="RaftSmall.CorrelationPyramid"/>: bilinear samples (zeros
/// outside) of every level in a (2r+1) x (2r+1) window around coords / 2^level. The per-level grid constants (window
/// offsets, pixel-to-normalised scale and shift, align_corners = false) are built once, so a look-up per iteration is
/// one multiply-add and one <see cref="Ops.GridSample"/> per level, and one concatenation and permutation in all.
/// </summary>
internal sealed class CorrelationLookup
{
    private readonly List<Tensor> _pyramid;
    private readonly Tensor[] _scale, _offset; // per level: [1, 1, 1, 2] and [1, k, k, 2]
    private readonly int _k, _levels;

    public CorrelationLookup(List<Tensor> pyramid, int radius, int levels)
    {
        _pyramid = pyramid;
        _k = 2 * radius + 1;
        _levels = Math.Max(levels, pyramid.Count);
        int k = _k;
        _scale = new Tensor[pyramid.Count];
        _offset = new Tensor[pyramid.Count];
        for (int l = 0; l < pyramid.Count; l++)
        {
            int lh = pyramid[l].Size(2), lw = pyramid[l].Size(3);
            // level pixel p = coords / 2^l + d -> normalised (2p + 1) / size - 1 = coords (2 / (2^l size)) + ((2d + 1) / size - 1)
            float sx = 2f / lw, sy = 2f / lh, div = 1f / (1 << l);
            _scale[l] = Tensor.FromArray(new[] { sx * div, sy * div }, 1, 1, 1, 2);
            var offset = new float[k * k * 2];
            for (int i = 0; i < k; i++)
                for (int j = 0; j < k; j++)
                {
                    offset[(i * k + j) * 2] = (j - radius) * sx + (1f / lw - 1f);     // x
                    offset[(i * k + j) * 2 + 1] = (i - radius) * sy + (1f / lh - 1f); // y
                }
            _offset[l] = Tensor.FromArray(offset, 1, k, k, 2);
        }
    }

    /// <summary>Correlation features around <paramref name="coords"/> [N, 2, h, w] (x, y in level-0 cells): [N, levels k k, h, w].</summary>
    public Tensor Sample(Tensor coords)
    {
        int n = coords.Size(0), h = coords.Size(2), w = coords.Size(3), kk = _k * _k;
        var centre = coords.Permute(0, 2, 3, 1).Reshape(n * h * w, 1, 1, 2);   // [N hw, 1, 1, 2] (x, y)
        var outs = new List<Tensor>(_levels);
        for (int l = 0; l < _pyramid.Count; l++)
        {
            var grid = centre.Mul(_scale[l]).Add(_offset[l]);                   // [N hw, k, k, 2]
            var s = Ops.GridSample(_pyramid[l], grid, alignCorners: false, GridPadding.Zeros); // [N hw, 1, k, k]
            outs.Add(s.Reshape(n * h * w, kk));
        }
        for (int l = _pyramid.Count; l < _levels; l++) outs.Add(Tensor.Zeros(n * h * w, kk));
        var all = outs.Count == 1 ? outs[0] : Ops.Concat(outs, 1);              // [N hw, L k k]
        return all.Reshape(n, h, w, _levels * kk).Permute(0, 3, 1, 2);          // [N, L k k, h, w]
    }
}
