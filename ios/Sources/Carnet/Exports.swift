// The app imports `Carnet` only: the generated bindings come with it.
@_exported import CarnetFFI
