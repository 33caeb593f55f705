"""easyTDV local AWS sandbox: moto's server plus what moto lacks
(Lambda and SSM commands really run, user data runs at launch, ...)."""
