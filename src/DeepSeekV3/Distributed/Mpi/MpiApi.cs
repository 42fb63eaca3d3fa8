using System.Runtime.InteropServices;
using System.Text;

namespace DeepSeekV3.Distributed.Mpi;

/// <summary>
/// The MPI functions and constants we use, resolved from one loaded library (the library is chosen at run time, so
/// these are function pointers, not DllImports). Handles (communicators, datatypes, ops, requests) are nint for both
/// ABIs: MPICH's int handles are passed sign-extended, which is ABI-safe on x86-64 SysV and AArch64 because an int
/// parameter reads only the low 32 bits of its register or stack slot. Output handles (MPI_Comm_split, requests)
/// are written into 8-byte native slots and read back with <see cref="ReadHandle"/>.
/// Constants: MPICH 4.0.2's mpi.h; Open MPI 4.1's are addresses of exported globals.
/// </summary>
internal sealed unsafe class MpiApi
{
    public const int Success = 0;

    public MpiApi(MpiLibraryChoice choice)
    {
        Choice = choice;
        nint library;
        try
        {
            library = NativeLibrary.Load(choice.Library);
        }
        catch (DllNotFoundException e)
        {
            throw new MpiException("load MPI",
                $"cannot load {choice.Library} (set {MpiLibraryChoice.LibraryVariable} to the library's path, or install MPICH: " +
                "bash scripts/setup.sh, i.e. apt-get install mpich)", e);
        }
        nint F(string name) => NativeLibrary.TryGetExport(library, name, out nint address)
            ? address
            : throw new MpiException("load MPI", $"{choice.Library} does not export {name}");

        bool mpich = choice.Implementation == MpiImplementation.Mpich;
        nint C(int mpichValue, string openMpiSymbol) => mpich ? mpichValue : F(openMpiSymbol);
        CommWorld = C(0x44000000, "ompi_mpi_comm_world");
        Float = C(0x4c00040a, "ompi_mpi_float");
        Double = C(0x4c00080b, "ompi_mpi_double");
        Int = C(0x4c000405, "ompi_mpi_int");
        Int64 = C(0x4c00083a, "ompi_mpi_int64_t");
        Byte = C(0x4c00010d, "ompi_mpi_byte");
        UInt16 = C(0x4c00023c, "ompi_mpi_uint16_t");
        Float16 = mpich ? 0x4c000246 : 0; // MPIX_C_FLOAT16; Open MPI 4.1 has no half type
        Sum = C(0x58000003, "ompi_mpi_op_sum");
        Max = C(0x58000001, "ompi_mpi_op_max");
        Min = C(0x58000002, "ompi_mpi_op_min");
        ErrorsReturn = C(0x54000001, "ompi_mpi_errors_return");
        InPlace = mpich ? -1 : 1;
        StatusIgnore = mpich ? 1 : 0;

        Init_thread = (delegate* unmanaged<int*, nint, int, int*, int>)F("MPI_Init_thread");
        Initialized = (delegate* unmanaged<int*, int>)F("MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)F("MPI_Finalized");
        Finalize = (delegate* unmanaged<int>)F("MPI_Finalize");
        Abort = (delegate* unmanaged<nint, int, int>)F("MPI_Abort");
        Comm_rank = (delegate* unmanaged<nint, int*, int>)F("MPI_Comm_rank");
        Comm_size = (delegate* unmanaged<nint, int*, int>)F("MPI_Comm_size");
        Comm_split = (delegate* unmanaged<nint, int, int, nint*, int>)F("MPI_Comm_split");
        Comm_free = (delegate* unmanaged<nint*, int>)F("MPI_Comm_free");
        Comm_set_errhandler = (delegate* unmanaged<nint, nint, int>)F("MPI_Comm_set_errhandler");
        Error_string = (delegate* unmanaged<int, byte*, int*, int>)F("MPI_Error_string");
        Get_library_version = (delegate* unmanaged<byte*, int*, int>)F("MPI_Get_library_version");
        Barrier = (delegate* unmanaged<nint, int>)F("MPI_Barrier");
        Allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)F("MPI_Allreduce");
        Bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)F("MPI_Bcast");
        Allgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)F("MPI_Allgather");
        Allgatherv = (delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int>)F("MPI_Allgatherv");
        Reduce_scatter = (delegate* unmanaged<void*, void*, int*, nint, nint, nint, int>)F("MPI_Reduce_scatter");
        Alltoall = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)F("MPI_Alltoall");
        Alltoallv = (delegate* unmanaged<void*, int*, int*, nint, void*, int*, int*, nint, nint, int>)F("MPI_Alltoallv");
        Send = (delegate* unmanaged<void*, int, nint, int, int, nint, int>)F("MPI_Send");
        Recv = (delegate* unmanaged<void*, int, nint, int, int, nint, nint, int>)F("MPI_Recv");
        Iallreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int>)F("MPI_Iallreduce");
        Iallgatherv = (delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, nint*, int>)F("MPI_Iallgatherv");
        Ireduce_scatter = (delegate* unmanaged<void*, void*, int*, nint, nint, nint, nint*, int>)F("MPI_Ireduce_scatter");
        Ialltoallv = (delegate* unmanaged<void*, int*, int*, nint, void*, int*, int*, nint, nint, nint*, int>)F("MPI_Ialltoallv");
        Isend = (delegate* unmanaged<void*, int, nint, int, int, nint, nint*, int>)F("MPI_Isend");
        Irecv = (delegate* unmanaged<void*, int, nint, int, int, nint, nint*, int>)F("MPI_Irecv");
        Wait = (delegate* unmanaged<nint*, nint, int>)F("MPI_Wait");
        Test = (delegate* unmanaged<nint*, int*, nint, int>)F("MPI_Test");
        Cancel = (delegate* unmanaged<nint*, int>)F("MPI_Cancel");
    }

    public MpiLibraryChoice Choice { get; }

    public nint CommWorld { get; }
    public nint Float { get; }
    public nint Double { get; }
    public nint Int { get; }
    public nint Int64 { get; }
    public nint Byte { get; }
    public nint UInt16 { get; }
    /// <summary>MPIX_C_FLOAT16, or 0 where the implementation has no half-precision type.</summary>
    public nint Float16 { get; }
    public nint Sum { get; }
    public nint Max { get; }
    public nint Min { get; }
    public nint ErrorsReturn { get; }
    public nint InPlace { get; }
    public nint StatusIgnore { get; }

    public readonly delegate* unmanaged<int*, nint, int, int*, int> Init_thread;
    public readonly delegate* unmanaged<int*, int> Initialized;
    public readonly delegate* unmanaged<int*, int> Finalized;
    public readonly delegate* unmanaged<int> Finalize;
    public readonly delegate* unmanaged<nint, int, int> Abort;
    public readonly delegate* unmanaged<nint, int*, int> Comm_rank;
    public readonly delegate* unmanaged<nint, int*, int> Comm_size;
    public readonly delegate* unmanaged<nint, int, int, nint*, int> Comm_split;
    public readonly delegate* unmanaged<nint*, int> Comm_free;
    public readonly delegate* unmanaged<nint, nint, int> Comm_set_errhandler;
    public readonly delegate* unmanaged<int, byte*, int*, int> Error_string;
    public readonly delegate* unmanaged<byte*, int*, int> Get_library_version;
    public readonly delegate* unmanaged<nint, int> Barrier;
    public readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, int> Allreduce;
    public readonly delegate* unmanaged<void*, int, nint, int, nint, int> Bcast;
    public readonly delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> Allgather;
    public readonly delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int> Allgatherv;
    public readonly delegate* unmanaged<void*, void*, int*, nint, nint, nint, int> Reduce_scatter;
    public readonly delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> Alltoall;
    public readonly delegate* unmanaged<void*, int*, int*, nint, void*, int*, int*, nint, nint, int> Alltoallv;
    public readonly delegate* unmanaged<void*, int, nint, int, int, nint, int> Send;
    public readonly delegate* unmanaged<void*, int, nint, int, int, nint, nint, int> Recv;
    public readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int> Iallreduce;
    public readonly delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, nint*, int> Iallgatherv;
    public readonly delegate* unmanaged<void*, void*, int*, nint, nint, nint, nint*, int> Ireduce_scatter;
    public readonly delegate* unmanaged<void*, int*, int*, nint, void*, int*, int*, nint, nint, nint*, int> Ialltoallv;
    public readonly delegate* unmanaged<void*, int, nint, int, int, nint, nint*, int> Isend;
    public readonly delegate* unmanaged<void*, int, nint, int, int, nint, nint*, int> Irecv;
    public readonly delegate* unmanaged<nint*, nint, int> Wait;
    public readonly delegate* unmanaged<nint*, int*, nint, int> Test;
    public readonly delegate* unmanaged<nint*, int> Cancel;

    /// <summary>A handle MPI wrote into an 8-byte slot: MPICH writes a 4-byte int, Open MPI a pointer.</summary>
    public nint ReadHandle(nint* slot) => Choice.Implementation == MpiImplementation.Mpich ? *(int*)slot : *slot;

    /// <summary>Throws <see cref="MpiException"/> naming <paramref name="call"/> unless <paramref name="code"/> is MPI_SUCCESS.</summary>
    public void Check(int code, string call)
    {
        if (code != Success) throw new MpiException(call, code, ErrorText(code));
    }

    public string ErrorText(int code)
    {
        byte* text = stackalloc byte[1024]; // MPI_MAX_ERROR_STRING: 512 (MPICH), 256 (Open MPI)
        int length = 0;
        return Error_string(code, text, &length) == Success ? Encoding.UTF8.GetString(text, length).Trim() : "(no error text)";
    }

    /// <summary>"MPICH 4.0.2" or "Open MPI v4.1.4": the first line of MPI_Get_library_version, shortened.</summary>
    public string LibraryVersion()
    {
        var text = new byte[8192]; // MPI_MAX_LIBRARY_VERSION_STRING
        int length = 0;
        fixed (byte* p = text)
            Check(Get_library_version(p, &length), "MPI_Get_library_version");
        string first = Encoding.UTF8.GetString(text, 0, length).Split('\n')[0];
        first = first.Split(',')[0].Replace("Version:", "").Trim();
        return string.Join(' ', first.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries));
    }
}
