/* Each rank writes "<rank> <size> <host>" to rank-<rank> in its working
 * directory: the tests read both files of a 2-process unit. */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv) {
    int rank, size, len;
    char host[MPI_MAX_PROCESSOR_NAME], name[32];
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Get_processor_name(host, &len);
    snprintf(name, sizeof name, "rank-%d", rank);
    FILE *f = fopen(name, "w");
    if (f == NULL) {
        perror(name);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    fprintf(f, "%d %d %s\n", rank, size, host);
    fclose(f);
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
    return 0;
}
