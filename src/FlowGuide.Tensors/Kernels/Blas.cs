using System.Runtime.InteropServices;

namespace FlowGuide.Tensors.Kernels;

/// <summary>
/// Run-time binding to a native CBLAS (OpenBLAS, MKL, Accelerate or a reference libblas that
/// exports <c>cblas_sgemm</c>). Nothing is linked at build time: the library is located with
/// <see cref="NativeLibrary"/> on first use and called through unmanaged function pointers.
/// Setting <c>FLOWGUIDE_BLAS=managed</c> disables native BLAS entirely;
/// <c>FLOWGUIDE_BLAS_LIB</c> names a library path to try first.
/// </summary>
internal static unsafe class Blas
{
    /// <summary>Environment variable; the value <c>managed</c> forbids loading any native BLAS.</summary>
    internal const string BackendEnvVar = "FLOWGUIDE_BLAS";

    /// <summary>Environment variable holding an explicit CBLAS library path or name to try first.</summary>
    internal const string LibraryEnvVar = "FLOWGUIDE_BLAS_LIB";

    internal const int CblasRowMajor = 101;
    internal const int CblasNoTrans = 111;
    internal const int CblasTrans = 112;

    private static readonly string[] Candidates =
    {
        "libopenblas.so.0",
        "libopenblas.so",
        "libmkl_rt.so.2",
        "libmkl_rt.so",
        "/System/Library/Frameworks/Accelerate.framework/Accelerate",
        "libblas.so.3",
    };

    private static readonly object Gate = new();
    private static volatile bool _initialized;
    private static string? _libraryName;
    private static delegate* unmanaged[Cdecl]<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> _sgemm;
    private static delegate* unmanaged[Cdecl]<int, void> _setNumThreads;
    private static delegate* unmanaged[Cdecl]<int> _getNumThreads;

    /// <summary>True when a CBLAS exporting <c>cblas_sgemm</c> was found and bound.</summary>
    internal static bool IsAvailable
    {
        get
        {
            EnsureInitialized();
            return _sgemm != null;
        }
    }

    /// <summary>The name or path the bound library was loaded from, or null when none is bound.</summary>
    internal static string? LibraryName
    {
        get
        {
            EnsureInitialized();
            return _libraryName;
        }
    }

    /// <summary>True when the library exports <c>openblas_set_num_threads</c> (OpenBLAS-compatible threading control).</summary>
    internal static bool CanSetThreads
    {
        get
        {
            EnsureInitialized();
            return _setNumThreads != null;
        }
    }

    /// <summary>Short family name of the bound library ("openblas", "mkl", "accelerate", "blas"), or null.</summary>
    internal static string? Vendor
    {
        get
        {
            string? name = LibraryName;
            if (name is null)
            {
                return null;
            }
            string lower = name.ToLowerInvariant();
            if (lower.Contains("openblas", StringComparison.Ordinal))
            {
                return "openblas";
            }
            if (lower.Contains("mkl", StringComparison.Ordinal))
            {
                return "mkl";
            }
            if (lower.Contains("accelerate", StringComparison.Ordinal))
            {
                return "accelerate";
            }
            return _setNumThreads != null ? "openblas" : "blas";
        }
    }

    /// <summary>True when the environment forces the managed backend (<c>FLOWGUIDE_BLAS=managed</c>).</summary>
    internal static bool ManagedForced =>
        string.Equals(Environment.GetEnvironmentVariable(BackendEnvVar)?.Trim(), "managed", StringComparison.OrdinalIgnoreCase);

    private static void EnsureInitialized()
    {
        if (_initialized)
        {
            return;
        }
        lock (Gate)
        {
            if (_initialized)
            {
                return;
            }
            try
            {
                if (!ManagedForced)
                {
                    Load();
                }
            }
            catch (Exception)
            {
                // A broken native library must never take down the engine: fall back to managed.
                _sgemm = null;
                _setNumThreads = null;
                _getNumThreads = null;
                _libraryName = null;
            }
            _initialized = true;
        }
        if (_setNumThreads != null)
        {
            _setNumThreads(Parallelism.NumThreads);
        }
    }

    private static void Load()
    {
        string? explicitLib = Environment.GetEnvironmentVariable(LibraryEnvVar);
        if (!string.IsNullOrWhiteSpace(explicitLib) && TryBind(explicitLib.Trim()))
        {
            return;
        }
        foreach (string candidate in Candidates)
        {
            if (TryBind(candidate))
            {
                return;
            }
        }
    }

    private static bool TryBind(string name)
    {
        if (!NativeLibrary.TryLoad(name, out nint handle))
        {
            return false;
        }
        if (!NativeLibrary.TryGetExport(handle, "cblas_sgemm", out nint sgemm))
        {
            // e.g. a Fortran-only libblas.so.3: useless to us.
            NativeLibrary.Free(handle);
            return false;
        }
        _libraryName = name;
        _sgemm = (delegate* unmanaged[Cdecl]<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)sgemm;
        if (NativeLibrary.TryGetExport(handle, "openblas_set_num_threads", out nint setThreads))
        {
            _setNumThreads = (delegate* unmanaged[Cdecl]<int, void>)setThreads;
        }
        else if (NativeLibrary.TryGetExport(handle, "MKL_Set_Num_Threads", out nint mklSet))
        {
            _setNumThreads = (delegate* unmanaged[Cdecl]<int, void>)mklSet;
        }
        if (NativeLibrary.TryGetExport(handle, "openblas_get_num_threads", out nint getThreads))
        {
            _getNumThreads = (delegate* unmanaged[Cdecl]<int>)getThreads;
        }
        return true;
    }

    /// <summary>Called by <see cref="Parallelism.NumThreads"/>; forwards only if a library is already loaded (never triggers a load).</summary>
    internal static void OnThreadCountChanged(int threads)
    {
        if (_initialized && _setNumThreads != null)
        {
            _setNumThreads(threads);
        }
    }

    /// <summary>Sets the native BLAS thread count directly (no-op when unsupported). Process-global.</summary>
    internal static void SetThreads(int threads)
    {
        EnsureInitialized();
        if (_setNumThreads != null)
        {
            _setNumThreads(Math.Max(1, threads));
        }
    }

    /// <summary>Native BLAS thread count as reported by the library, or -1 when unknown.</summary>
    internal static int GetThreads()
    {
        EnsureInitialized();
        return _getNumThreads != null ? _getNumThreads() : -1;
    }

    /// <summary>
    /// Row-major <c>cblas_sgemm</c>: C[m,n] = alpha * op(A) @ op(B) + beta * C. The caller has
    /// validated all dimensions, leading dimensions and buffer sizes; this only pins and calls.
    /// </summary>
    /// <exception cref="InvalidOperationException">No BLAS is available.</exception>
    internal static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        if (!IsAvailable)
        {
            throw new InvalidOperationException("Sgemm: no native BLAS is available.");
        }
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            _sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                m, n, k, alpha, pa, Math.Max(1, lda), pb, Math.Max(1, ldb), beta, pc, Math.Max(1, ldc));
        }
    }
}
