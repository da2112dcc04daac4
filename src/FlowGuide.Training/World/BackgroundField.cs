namespace FlowGuide.Training.World;

/// <summary>
/// A background pattern evaluated at world points (units of the frame height). Every pattern is defined on the whole
/// plane, so a panning camera always finds texture; the noise is a hashed value-noise lattice keyed by the clip's
/// seed, built from integer mixing and + - * / only.
/// </summary>
internal sealed class BackgroundField
{
    private readonly BackgroundKind _kind;
    private readonly Rgb _a, _b;
    private readonly double _invPeriod, _dx, _dy;
    private readonly ulong _seed;

    public BackgroundField(BackgroundSpec spec, long seed)
    {
        _kind = spec.Kind;
        if (_kind == BackgroundKind.Plain)
        {
            _a = _b = spec.Color.ToRgb();
        }
        else
        {
            _a = spec.ToneA;
            _b = spec.ToneB;
        }
        _invPeriod = spec.Kind == BackgroundKind.Plain ? 0 : 1 / spec.Period;
        double len = Math.Sqrt(spec.DirectionX * spec.DirectionX + spec.DirectionY * spec.DirectionY);
        (_dx, _dy) = len > 0 ? (spec.DirectionX / len, spec.DirectionY / len) : (1, 0);
        _seed = unchecked((ulong)seed);
    }

    public bool IsPlain => _kind == BackgroundKind.Plain;

    /// <summary>The colour of a plain background (tone A otherwise).</summary>
    public Rgb PlainColor => _a;

    /// <summary>The background colour at world point (wx, wy).</summary>
    public void At(double wx, double wy, out double r, out double g, out double b)
    {
        double t; // blend from tone A (0) to tone B (1)
        switch (_kind)
        {
            case BackgroundKind.Plain:
                r = _a.R; g = _a.G; b = _a.B;
                return;
            case BackgroundKind.Striped:
            {
                double d = (wx * _dx + wy * _dy) * _invPeriod;
                t = d - Math.Floor(d) < 0.5 ? 0 : 1;
                break;
            }
            case BackgroundKind.Checkered:
            {
                long ix = (long)Math.Floor(wx * _invPeriod), iy = (long)Math.Floor(wy * _invPeriod);
                t = ((ix + iy) & 1) == 0 ? 0 : 1;
                break;
            }
            case BackgroundKind.Gradient:
            {
                // mirrored ramp: A at d = 0, B at d = 1, A again at d = 2, ...
                double d = (wx * _dx + wy * _dy) * _invPeriod;
                double m = d - 2 * Math.Floor(d / 2);
                t = m <= 1 ? m : 2 - m;
                break;
            }
            default: // Noise: two octaves of value noise, weights 2/3 and 1/3
            {
                double x = wx * _invPeriod, y = wy * _invPeriod;
                t = (2 * ValueNoise(x, y, 0) + ValueNoise(2 * x + 17.25, 2 * y + 5.5, 1)) / 3;
                break;
            }
        }
        r = _a.R + (_b.R - _a.R) * t;
        g = _a.G + (_b.G - _a.G) * t;
        b = _a.B + (_b.B - _a.B) * t;
    }

    /// <summary>Smoothstep-interpolated lattice noise in [0, 1].</summary>
    private double ValueNoise(double x, double y, ulong octave)
    {
        double fx0 = Math.Floor(x), fy0 = Math.Floor(y);
        long ix = (long)fx0, iy = (long)fy0;
        double fx = x - fx0, fy = y - fy0;
        double sx = fx * fx * (3 - 2 * fx), sy = fy * fy * (3 - 2 * fy);
        double v00 = Lattice(ix, iy, octave), v10 = Lattice(ix + 1, iy, octave);
        double v01 = Lattice(ix, iy + 1, octave), v11 = Lattice(ix + 1, iy + 1, octave);
        double top = v00 + (v10 - v00) * sx;
        double bottom = v01 + (v11 - v01) * sx;
        return top + (bottom - top) * sy;
    }

    /// <summary>A uniform value in [0, 1) for one lattice point: a SplitMix64 finaliser over seed, octave and coordinates.</summary>
    private double Lattice(long ix, long iy, ulong octave)
    {
        unchecked
        {
            ulong h = _seed * 0x9E3779B97F4A7C15UL;
            h ^= (ulong)ix * 0xC2B2AE3D27D4EB4FUL + octave * 0x94D049BB133111EBUL;
            h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9UL;
            h ^= (ulong)iy * 0x165667B19E3779F9UL;
            h = (h ^ (h >> 27)) * 0x94D049BB133111EBUL;
            h ^= h >> 31;
            return (h >> 11) * (1.0 / (1UL << 53));
        }
    }
}
