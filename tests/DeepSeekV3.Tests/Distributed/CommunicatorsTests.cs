using DeepSeekV3.Distributed;
using DeepSeekV3.Distributed.Mpi;

namespace DeepSeekV3.Tests.Distributed;

public sealed class CommunicatorsTests
{
    private static Func<string, string?> Environment(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void Without_an_mpiexec_the_world_is_a_single_process()
    {
        using var world = Communicators.FromEnvironment(Environment());
        Assert.IsType<SingleProcessCommunicator>(world);
    }

    [Fact]
    public void The_library_follows_MPI_LIB_then_the_launcher_then_defaults_to_MPICH()
    {
        Assert.Equal(new MpiLibraryChoice("libmpich.so.12", MpiImplementation.Mpich),
            MpiLibraryChoice.FromEnvironment(Environment(("PMI_RANK", "0"), ("PMI_SIZE", "2"))));
        Assert.Equal(new MpiLibraryChoice("libmpi.so.40", MpiImplementation.OpenMpi),
            MpiLibraryChoice.FromEnvironment(Environment(("OMPI_COMM_WORLD_SIZE", "2"))));
        Assert.Equal(new MpiLibraryChoice("/opt/intel/lib/libmpi.so.12", MpiImplementation.Mpich),
            MpiLibraryChoice.FromEnvironment(Environment(("MPI_LIB", "/opt/intel/lib/libmpi.so.12"), ("OMPI_COMM_WORLD_SIZE", "2"))));
        Assert.Equal(MpiImplementation.Mpich, MpiLibraryChoice.FromEnvironment(Environment()).Implementation);
        Assert.True(MpiLibraryChoice.LaunchedByMpiexec(Environment(("PMI_SIZE", "4"))));
        Assert.False(MpiLibraryChoice.LaunchedByMpiexec(Environment(("MPI_LIB", "libmpich.so.12"))));
    }

    [Fact]
    public void Launched_by_mpiexec_without_the_library_says_how_to_install_MPICH()
    {
        var e = Assert.Throws<MpiException>(() =>
            Communicators.FromEnvironment(Environment(("PMI_RANK", "0"), ("PMI_SIZE", "2"), ("MPI_LIB", "libmpich-not-here.so.12"))));
        Assert.Contains("bash scripts/setup.sh", e.Message);
        Assert.Contains("apt-get install mpich", e.Message);
    }
}
