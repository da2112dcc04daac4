using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Sampling.Tests;

/// <summary>
/// Euler and UniPC on flows with known solutions. The Gaussian toy: data z0 ~ N(mu, s^2) per element, noising
/// z_t = (1 - t) z0 + t eps; the probability-flow ODE maps z_t = (1 - t) mu + std(t) xi with std(t)^2 = (1 - t)^2 s^2 + t^2,
/// so the exact velocity is v(z, t) = -mu + (t - (1 - t) s^2) / std(t)^2 * (z - (1 - t) mu) and the exact end point mu + s xi.
/// </summary>
public class SolverTests
{
    private static readonly double[] Mu = { 0.3, -0.7, 1.1, 0.0, 0.5, -0.2 };
    private static readonly double[] Xi = { 0.8, -1.3, 0.1, 2.0, -0.4, 1.5 };
    private const double S = 0.5;

    private static double Std(double t) => Math.Sqrt((1 - t) * (1 - t) * S * S + t * t);

    private static Tensor Exact(double t) => Tensor.FromArray(Mu.Select((m, i) => (1 - t) * m + Std(t) * Xi[i]).ToArray(), Mu.Length);

    private static Tensor GaussianVelocity(Tensor z, double t)
    {
        var zs = z.ToArray();
        double c = (t - (1 - t) * S * S) / (Std(t) * Std(t));
        return Tensor.FromArray(zs.Select((x, i) => -Mu[i] + c * (x - (1 - t) * Mu[i])).ToArray(), zs.Length);
    }

    private static Tensor RunEuler(SigmaSchedule s, Tensor z, Func<Tensor, double, Tensor> v)
    {
        for (int i = 0; i < s.Steps; i++) z = FlowMatchEuler.Step(z, v(z, s.Sigmas[i]), s, i);
        return z;
    }

    private static Tensor RunUniPc(SigmaSchedule s, Tensor z, Func<Tensor, double, Tensor> v, List<float[]>? trajectory = null)
    {
        var state = UniPcState.Initial;
        for (int i = 0; i < s.Steps; i++)
        {
            (z, state) = UniPc.Step(z, v(z, s.Sigmas[i]), s, i, state);
            trajectory?.Add(z.ToArray());
        }
        return z;
    }

    private static double MaxError(Tensor a, Tensor b) => a.ToArray().Zip(b.ToArray(), (x, y) => Math.Abs((double)x - y)).Max();

    [Fact]
    public void EulerIsExactOnAStraightPath()
    {
        // One data point x0: v(z, t) = (z - x0) / t is constant along z_t = (1 - t) x0 + t eps, so Euler lands on x0.
        var x0 = Tensor.FromArray(new[] { 0.25f, -1.5f, 2f }, 3);
        var eps = Tensor.FromArray(new[] { 1f, 0.5f, -0.75f }, 3);
        var s = SigmaSchedule.Create(7, 3.0);
        double t0 = s.Sigmas[0];
        var z = Ops.Add(Ops.MulScalar(x0, (float)(1 - t0)), Ops.MulScalar(eps, (float)t0));
        Func<Tensor, double, Tensor> v = (zt, t) => Ops.MulScalar(Ops.Sub(zt, x0), (float)(1 / t));
        Assert.True(MaxError(RunEuler(s, z, v), x0) < 1e-5);
        Assert.True(MaxError(RunUniPc(s, z, v), x0) < 1e-5); // UniPC's x0 prediction is constant here: exact too
    }

    [Fact]
    public void EulerStepIsXPlusDtV()
    {
        var s = SigmaSchedule.FromSigmas(new[] { 0.8, 0.3, 0.0 });
        var x = Tensor.FromArray(new[] { 1f, 2f }, 2);
        var v = Tensor.FromArray(new[] { 4f, -2f }, 2);
        Assert.Equal(new[] { 1f - 0.5f * 4f, 2f + 0.5f * 2f }, FlowMatchEuler.Step(x, v, s, 0).ToArray());
        Assert.Equal(new[] { 1f - 0.8f * 4f, 2f + 0.8f * 2f }, FlowMatchEuler.PredictX0(x, v, s, 0).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => FlowMatchEuler.Step(x, v, s, 2));
        Assert.Throws<ArgumentException>(() => FlowMatchEuler.Step(x, Tensor.Zeros(3), s, 0));
    }

    // From Reference/unipc_reference.py (a float64 numpy re-statement of diffusers' UniPC bh2 step): 10 steps, shift 3,
    // start at the exact point for sigma_0; elements 0, 1 and 3 after every step.
    private static readonly double[][] ReferenceTrajectory =
    {
        new[] { 0.7819729480987577, -1.2783685558488167, 1.9278881989939458 },
        new[] { 0.7618367878565308, -1.2544064243555322, 1.8466332257989622 },
        new[] { 0.7389804263611075, -1.227483212014653, 1.7534274688044609 },
        new[] { 0.7127790716946057, -1.1969814271959296, 1.6453049650287639 },
        new[] { 0.6828398509987332, -1.1628194852366227, 1.5193182368014846 },
        new[] { 0.6490820195871272, -1.1256703538610955, 1.3724271476783552 },
        new[] { 0.612824881347557, -1.0888839172466758, 1.2036734325798457 },
        new[] { 0.5806305434449364, -1.0650182741383185, 1.0227752725877617 },
        new[] { 0.580805822380851, -1.1032287395819176, 0.8893582799061188 },
        new[] { 0.628511709384269, -1.2338315277494365, 0.8212792734606718 },
    };

    [Fact]
    public void UniPcMatchesTheNumpyReferenceTrajectory()
    {
        var s = SigmaSchedule.Create(10, 3.0);
        var traj = new List<float[]>();
        var final = RunUniPc(s, Exact(s.Sigmas[0]), GaussianVelocity, traj);
        Assert.Equal(10, traj.Count);
        for (int i = 0; i < 10; i++)
        {
            int[] el = { 0, 1, 3 };
            for (int k = 0; k < 3; k++)
                Assert.True(Math.Abs(traj[i][el[k]] - ReferenceTrajectory[i][k]) < 2e-6, $"step {i} element {el[k]}: {traj[i][el[k]]} vs {ReferenceTrajectory[i][k]}");
        }
        double[] refFinal = { 0.628511709384269, -1.2338315277494365, 1.1410639636730338, 0.8212792734606718, 0.3357441453078656, 0.4159594550955038 };
        for (int k = 0; k < 6; k++) Assert.True(Math.Abs(final.Span[k] - refFinal[k]) < 2e-6);
    }

    [Fact]
    public void UniPcConvergesWithOrderTwoAndBeatsEuler()
    {
        // numpy reference errors (max over elements), shift 1: Euler 0.0714 / 0.0363 / 0.0183, UniPC 0.00793 / 0.00227 / 0.000546.
        int[] steps = { 20, 40, 80 };
        var eu = new double[3];
        var up = new double[3];
        var target = Exact(0);
        for (int k = 0; k < 3; k++)
        {
            var s = SigmaSchedule.Create(steps[k], 1.0);
            eu[k] = MaxError(RunEuler(s, Exact(s.Sigmas[0]), GaussianVelocity), target);
            up[k] = MaxError(RunUniPc(s, Exact(s.Sigmas[0]), GaussianVelocity), target);
            Assert.True(up[k] < eu[k] / 5, $"UniPC {up[k]} should beat Euler {eu[k]} at {steps[k]} steps");
        }
        for (int k = 0; k < 2; k++)
        {
            double re = eu[k] / eu[k + 1], ru = up[k] / up[k + 1];
            Assert.InRange(re, 1.8, 2.2);  // first order
            Assert.InRange(ru, 3.2, 4.8);  // second order
        }
        Assert.Equal(0.0183332, eu[2], 1e-4);
        Assert.Equal(0.000545699, up[2], 2e-5);
    }

    [Fact]
    public void LastStepReturnsTheCleanPrediction()
    {
        var s = SigmaSchedule.Create(4, 3.0);
        var state = UniPcState.Initial;
        var z = Exact(s.Sigmas[0]);
        for (int i = 0; i < 3; i++) (z, state) = UniPc.Step(z, GaussianVelocity(z, s.Sigmas[i]), s, i, state);
        var v = GaussianVelocity(z, s.Sigmas[3]);
        var (last, st) = UniPc.Step(z, v, s, 3, state);
        var x0 = FlowMatchEuler.PredictX0(z, v, s, 3);
        Assert.Equal(x0.ToArray(), last.ToArray());
        Assert.Equal(4, st.NextStep);
        Assert.Equal(1, st.LastOrder);
    }

    [Fact]
    public void OrdersFollowWarmupAndLowerOrderFinal()
    {
        var s = SigmaSchedule.Create(5, 3.0);
        var state = UniPcState.Initial;
        var z = Exact(s.Sigmas[0]);
        var orders = new List<int>();
        for (int i = 0; i < 5; i++)
        {
            (z, state) = UniPc.Step(z, GaussianVelocity(z, s.Sigmas[i]), s, i, state);
            orders.Add(state.LastOrder);
        }
        Assert.Equal(new[] { 1, 2, 2, 2, 1 }, orders);
    }

    [Fact]
    public void MisusedStateThrows()
    {
        var s = SigmaSchedule.Create(5, 3.0);
        var z = Exact(s.Sigmas[0]);
        var (_, st) = UniPc.Step(z, GaussianVelocity(z, s.Sigmas[0]), s, 0, UniPcState.Initial);
        var e = Assert.Throws<ArgumentException>(() => UniPc.Step(z, GaussianVelocity(z, s.Sigmas[2]), s, 2, st));
        Assert.Contains("state is for step 1", e.Message);
        Assert.Throws<ArgumentException>(() => UniPc.Step(z, Tensor.Zeros(2), s, 0, UniPcState.Initial));
    }

    [Fact]
    public void UniPcHandlesAScheduleStartingAtPureNoise()
    {
        // sigma_0 = 1 makes lambda_0 = -inf; the B(h) formulas still have finite limits, and the result must converge.
        var s = SigmaSchedule.Create(40, 1.0, sigmaMax: 1.0, sigmaMin: 1.0 / 1000);
        var z = RunUniPc(s, Exact(1.0), GaussianVelocity);
        Assert.All(z.ToArray(), x => Assert.True(float.IsFinite(x)));
        Assert.True(MaxError(z, Exact(0)) < 0.01);
    }
}
